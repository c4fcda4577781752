import { createRoot } from 'react-dom/client';
import { App } from './App';
import { loadConfig } from './config';
import './styles.css';

const container = document.getElementById('root');
if (container === null) throw new Error('No #root element');
const root = createRoot(container);

loadConfig().then(
  (config) => root.render(<App config={config} />),
  (error: unknown) =>
    root.render(
      <main className="fatal" role="alert">
        <h1>Parley could not start</h1>
        <p>{error instanceof Error ? error.message : String(error)}</p>
      </main>,
    ),
);
