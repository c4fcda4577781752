const xmlEntities: Readonly<Record<string, string>> = {
  '<': '&lt;',
  '>': '&gt;',
  '&': '&amp;',
  "'": '&apos;',
  '"': '&quot;',
};

export function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (character) => xmlEntities[character] ?? character);
}

export function unescapeXml(text: string): string {
  return text.replace(/&(lt|gt|amp|apos|quot);/g, (entity) => {
    const found = Object.entries(xmlEntities).find(([, escaped]) => escaped === entity);
    return found === undefined ? entity : found[0];
  });
}
