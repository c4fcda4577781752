import contentDisposition from 'content-disposition';
import { describe, expect, it } from 'vitest';
import { media } from '#shared/config/media';
import { contentDispositionFor, dispositionForKind, sanitizeFileName, servedFileName } from '#shared/media/file-name';

const loneSurrogate = /\p{Cs}/u;

describe('sanitizeFileName', () => {
  it.each([
    ['report.pdf', 'report.pdf'],
    ['Holiday photo (1).JPG', 'Holiday photo (1).JPG'],
    ['👨‍👩‍👧 family.jpg', '👨‍👩‍👧 family.jpg'],
  ])('keeps the ordinary name %j', (name, expected) => {
    expect(sanitizeFileName(name)).toBe(expected);
  });

  it('normalises to NFC', () => {
    const decomposed = 'Cafe\u0301 menu.txt';

    const sanitized = sanitizeFileName(decomposed);

    expect(sanitized).toBe('Caf\u00e9 menu.txt');
    expect(sanitized.length).toBe(decomposed.length - 1);
  });

  it.each([
    ['../../etc/passwd', 'passwd'],
    ['..\\..\\Windows\\System32\\cmd.exe', 'cmd.exe'],
    ['C:\\Users\\me\\Pictures\\photo.jpg', 'photo.jpg'],
    ['/var/www/../../secret.txt', 'secret.txt'],
    ['mixed/dirs\\and/names.csv', 'names.csv'],
    ['..', 'file'],
    ['../', 'file'],
    ['folder\\', 'file'],
  ])('strips the path from %j', (name, expected) => {
    expect(sanitizeFileName(name)).toBe(expected);
  });

  it('drops bidi overrides and isolates that disguise an extension', () => {
    const disguised = 'invoice\u202Efdp.exe';
    const isolated = '\u2066report\u2069\u202A\u202B\u202C\u202D\u2067\u2068.pdf';

    expect(sanitizeFileName(disguised)).toBe('invoicefdp.exe');
    expect(sanitizeFileName(isolated)).toBe('report.pdf');
  });

  it('drops control characters and turns whitespace controls into single spaces', () => {
    expect(sanitizeFileName('a\u0000b\u0007c\u007F\u009Bd.txt')).toBe('abcd.txt');
    expect(sanitizeFileName('two\twords\r\nhere.txt')).toBe('two words here.txt');
  });

  it('drops characters Windows forbids in names', () => {
    expect(sanitizeFileName('what?<is>:this|"*.txt')).toBe('whatisthis.txt');
  });

  it('collapses whitespace and trims dots and spaces at both ends', () => {
    expect(sanitizeFileName('  my    notes\u00A0\u3000 final . ')).toBe('my notes final');
    expect(sanitizeFileName('...hidden.txt')).toBe('hidden.txt');
    expect(sanitizeFileName('trailing.pdf...')).toBe('trailing.pdf');
  });

  it('drops lone surrogates, which would break URL encoding', () => {
    const sanitized = sanitizeFileName('a\uD800b\uDC00c.txt');

    expect(sanitized).toBe('abc.txt');
    expect(() => encodeURIComponent(sanitized)).not.toThrow();
  });

  it.each(['', '   ', '. .', '\u202E', '???', '\u0000\u0001'])('answers "file" when nothing is left of %j', (name) => {
    expect(sanitizeFileName(name)).toBe('file');
  });

  it('cuts a long name to the limit and keeps its extension', () => {
    const sanitized = sanitizeFileName(`${'a'.repeat(300)}.pdf`);

    expect(sanitized).toHaveLength(media.maxFileNameLength);
    expect(sanitized).toBe(`${'a'.repeat(media.maxFileNameLength - 4)}.pdf`);
  });

  it('cuts between surrogate pairs, never inside one', () => {
    // The leading x shifts the pairs so that a naive cut at 196 UTF-16 units would split an emoji.
    const sanitized = sanitizeFileName(`x${'😀'.repeat(150)}.png`);

    expect(sanitized.length).toBeLessThanOrEqual(media.maxFileNameLength);
    expect(sanitized.length).toBeGreaterThan(media.maxFileNameLength - 2);
    expect(sanitized).toMatch(/\.png$/);
    expect(loneSurrogate.test(sanitized)).toBe(false);
  });

  it('cuts a long name without an extension to the limit', () => {
    const sanitized = sanitizeFileName('word '.repeat(100));

    expect(sanitized.length).toBeLessThanOrEqual(media.maxFileNameLength);
    expect(sanitized).toMatch(/^word( word)*$/);
  });
});

describe('servedFileName', () => {
  it.each([
    ['x.html', 'text/plain', 'x.txt'],
    ['x.svg', 'image/png', 'x.png'],
    ['invoice.pdf.exe', 'application/pdf', 'invoice.pdf.pdf'],
    ['notes', 'text/plain', 'notes.txt'],
    ['v1.2', 'application/zip', 'v1.2.zip'],
    ['clip.MOV', 'video/mp4', 'clip.mp4'],
    ['.html', 'text/plain', 'html.txt'],
    ['x.png.html', 'image/png', 'x.png.png'],
  ])('names %j as a %s: %j', (name, contentType, expected) => {
    expect(servedFileName(name, contentType)).toBe(expected);
  });

  it.each([
    ['Holiday photo (1).JPG', 'image/jpeg'],
    ['scan.jpeg', 'image/jpeg'],
    ['Q3 report.pdf', 'application/pdf'],
    ['voice.opus', 'audio/ogg'],
  ])('keeps %j, which already ends with an extension of %s', (name, contentType) => {
    expect(servedFileName(name, contentType)).toBe(name);
  });

  it('keeps the extension when a long name is cut, and is stable when applied again', () => {
    const served = servedFileName(`${'a'.repeat(300)}.html`, 'text/plain');

    expect(served.length).toBeLessThanOrEqual(media.maxFileNameLength);
    expect(served).toMatch(/^a{190,}\.txt$/);
    expect(servedFileName(served, 'text/plain')).toBe(served);
  });
});

describe('contentDispositionFor', () => {
  it('gives a Unicode name both an ASCII filename and an RFC 5987 filename*', () => {
    const name = 'Grüße 会議.pdf';

    const header = contentDispositionFor(name, 'attachment');

    expect(header).toMatch(/^attachment; /);
    expect(header).toContain('filename="Gru_e __.pdf"');
    expect(header).toContain("filename*=UTF-8''Gr%C3%BC%C3%9Fe%20%E4%BC%9A%E8%AD%B0.pdf");
    expect(header).toMatch(/^[\x20-\x7E]*$/);
    expect(contentDisposition.parse(header).parameters.filename).toBe(name);
  });

  it('keeps Latin-1 names out of the plain filename, which must stay ASCII', () => {
    const header = contentDispositionFor('café.pdf', 'inline');

    expect(header).toMatch(/^inline; /);
    expect(header).toContain('filename="cafe.pdf"');
    expect(header).toContain("filename*=UTF-8''caf%C3%A9.pdf");
    expect(header).toMatch(/^[\x20-\x7E]*$/);
  });

  it('writes a plain ASCII name once', () => {
    expect(contentDispositionFor('report 2024.pdf', 'attachment')).toBe('attachment; filename="report 2024.pdf"');
  });

  it('round-trips every sanitised name', () => {
    for (const raw of ['../évil\u202E.exe', 'naïve — résumé.docx', '😀 '.repeat(80), 'semi;colon,comma=eq.txt']) {
      const name = sanitizeFileName(raw);
      expect(contentDisposition.parse(contentDispositionFor(name, 'attachment')).parameters.filename).toBe(name);
    }
  });
});

describe('dispositionForKind', () => {
  it('shows media inline and downloads every other file', () => {
    expect(dispositionForKind('image')).toBe('inline');
    expect(dispositionForKind('video')).toBe('inline');
    expect(dispositionForKind('file')).toBe('attachment');
    expect(dispositionForKind('video', false)).toBe('attachment');
  });
});
