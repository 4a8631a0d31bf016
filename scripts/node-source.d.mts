/** `spawn(process.execPath, nodeSourceArgs(entry, ...args))` */
export function nodeSourceArgs(entry: string, ...args: string[]): string[];
