// @ts-check
// The bridge to the main process's chat (sandboxed preloads are CommonJS).
const { contextBridge, ipcRenderer } = require('electron');

/** @type {RunGgufMain} */
const api = {
  pickAndLoad: () => ipcRenderer.invoke('run-gguf:pick-and-load'),
  send: (text, options) => ipcRenderer.invoke('run-gguf:send', text, options),
  stop: () => ipcRenderer.invoke('run-gguf:stop'),
  onText(listener) {
    ipcRenderer.removeAllListeners('run-gguf:text');
    ipcRenderer.on('run-gguf:text', (_event, text) => listener(text));
  },
};
contextBridge.exposeInMainWorld('runGgufMain', api);
