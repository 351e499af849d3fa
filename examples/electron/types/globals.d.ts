// What preload.cjs gives the renderer (window.runGgufMain); absent in a plain browser.
import type { ChatResult, ModelInfo, SendOptions } from 'run-gguf';

declare global {
  interface RunGgufMain {
    /** Asks for a .gguf file and loads it in the main process; null when cancelled. */
    pickAndLoad(): Promise<{ info: ModelInfo; threads: number } | null>;
    send(text: string, options: Omit<SendOptions, 'signal'>): Promise<ChatResult>;
    stop(): Promise<void>;
    /** Pieces of the main process's reply as they come. */
    onText(listener: (text: string) => void): void;
  }
  interface Window {
    runGgufMain?: RunGgufMain;
  }
}
export {};
