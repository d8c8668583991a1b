// How a command reports its exit code to main: a file of its own, so the commands and the list
// that registers them (commands.ts) do not import each other.

export type SetExit = (code: number) => void;
