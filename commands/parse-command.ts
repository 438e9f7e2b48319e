// Splits the text after `/journey` into words, honouring quotes (Slack may turn them into curly quotes).
export class CommandSyntaxError extends Error {
  override name = 'CommandSyntaxError';
}

/** Longest text a command answer quotes back; longer input is clipped in messages, never echoed whole. */
export const MAX_COMMAND_LENGTH = 2000;

const OPENING: Record<string, string> = { '"': '"', '“': '”', '”': '”', "'": "'", '‘': '’', '’': '’' };

export function tokenize(text: string): string[] {
  if (text.length > MAX_COMMAND_LENGTH) {
    throw new CommandSyntaxError(`That command is ${text.length} characters long; the most it can be is ${MAX_COMMAND_LENGTH}.`);
  }
  const words: string[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const closing = OPENING[ch];
    // A quote opens a quoted word only at the start of a word, so "don't" stays one word.
    if (closing !== undefined) {
      const end = text.indexOf(closing, i + 1);
      const altEnd = closing === '”' ? text.indexOf('"', i + 1) : closing === '’' ? text.indexOf("'", i + 1) : -1;
      const stop = [end, altEnd].filter((n) => n >= 0).sort((a, b) => a - b)[0];
      if (stop === undefined) throw new CommandSyntaxError(`A quote opened at ${JSON.stringify(text.slice(i, i + 20))} is never closed.`);
      words.push(text.slice(i + 1, stop));
      i = stop + 1;
      continue;
    }
    let j = i;
    while (j < text.length && !/\s/.test(text[j]!)) j++;
    words.push(text.slice(i, j));
    i = j;
  }
  return words;
}
