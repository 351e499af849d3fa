// @ts-check
// Electron's main process: serves the app over app:// with the headers that
// make the renderer cross-origin isolated (SharedArrayBuffer, so run-gguf
// uses every core there too), and runs a second chat here for the renderer's
// "main process" mode. Files are read through net.fetch, which reads inside
// app.asar: nothing needs unpacking.
import { app, BrowserWindow, dialog, ipcMain, net, protocol } from 'electron';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as mainChat from './chat-main.js';

const root = dirname(fileURLToPath(import.meta.url));

/** @type {Record<string, string>} */
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
};

protocol.registerSchemesAsPrivileged([
  { scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true } },
]);

/** @param {Request} request */
async function serve(request) {
  const file = normalize(join(root, decodeURIComponent(new URL(request.url).pathname)));
  if (file !== root && !file.startsWith(root + sep)) return new Response('forbidden', { status: 403 });
  const res = await net.fetch(pathToFileURL(file).href);
  return new Response(res.body, {
    status: res.status,
    headers: {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
    },
  });
}

function createWindow() {
  const win = new BrowserWindow({
    width: 900,
    height: 700,
    title: 'run-gguf chat',
    webPreferences: { preload: join(root, 'preload.cjs'), contextIsolation: true, sandbox: true },
  });
  void win.loadURL('app://bundle/renderer/index.html');
}

ipcMain.handle('run-gguf:pick-and-load', async () => {
  const picked = await dialog.showOpenDialog({ properties: ['openFile'], filters: [{ name: 'GGUF models', extensions: ['gguf'] }] });
  if (picked.canceled || !picked.filePaths[0]) return null;
  return mainChat.load(picked.filePaths[0]);
});
ipcMain.handle('run-gguf:send', (event, /** @type {string} */ text, options) =>
  mainChat.send(text, options, (piece) => event.sender.send('run-gguf:text', piece)));
ipcMain.handle('run-gguf:stop', () => mainChat.stop());

app.whenReady().then(() => {
  protocol.handle('app', serve);
  createWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow();
  });
});
app.on('window-all-closed', () => {
  void mainChat.close().finally(() => app.quit());
});
