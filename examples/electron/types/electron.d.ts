// The part of Electron's API this example uses, so that it type-checks here
// without the electron package (its binary cannot be downloaded in CI). With
// electron installed, delete this file: the real types take over.
declare module 'electron' {
  interface WebContents {
    send(channel: string, ...args: unknown[]): void;
  }
  interface IpcMainInvokeEvent {
    readonly sender: WebContents;
  }
  interface IpcRendererEvent {
    readonly sender: unknown;
  }
  interface BrowserWindowOptions {
    width?: number;
    height?: number;
    title?: string;
    webPreferences?: { preload?: string; contextIsolation?: boolean; sandbox?: boolean; nodeIntegration?: boolean };
  }
  class BrowserWindow {
    constructor(options?: BrowserWindowOptions);
    loadURL(url: string): Promise<void>;
    readonly webContents: WebContents;
    static getAllWindows(): BrowserWindow[];
  }
  interface App {
    whenReady(): Promise<void>;
    on(event: 'window-all-closed' | 'activate' | 'before-quit', listener: () => void): App;
    quit(): void;
    getAppPath(): string;
  }
  const app: App;
  interface CustomScheme {
    scheme: string;
    privileges?: { standard?: boolean; secure?: boolean; supportFetchAPI?: boolean; stream?: boolean; corsEnabled?: boolean; codeCache?: boolean };
  }
  const protocol: {
    registerSchemesAsPrivileged(schemes: CustomScheme[]): void;
    handle(scheme: string, handler: (request: Request) => Response | Promise<Response>): void;
  };
  const net: {
    fetch(input: string | Request, init?: RequestInit & { bypassCustomProtocolHandlers?: boolean }): Promise<Response>;
  };
  const dialog: {
    showOpenDialog(options: { properties?: string[]; filters?: { name: string; extensions: string[] }[] }): Promise<{ canceled: boolean; filePaths: string[] }>;
  };
  const ipcMain: {
    handle(channel: string, listener: (event: IpcMainInvokeEvent, ...args: any[]) => unknown): void;
  };
  const ipcRenderer: {
    invoke(channel: string, ...args: unknown[]): Promise<any>;
    on(channel: string, listener: (event: IpcRendererEvent, ...args: any[]) => void): void;
    removeAllListeners(channel: string): void;
  };
  const contextBridge: {
    exposeInMainWorld(key: string, api: unknown): void;
  };
}
