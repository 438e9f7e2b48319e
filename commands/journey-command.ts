// Reads the text after /journey and answers it: one entry point for Slack, the CLI preview and the local console.
import { buildHelpMessage } from '../reports/blocks/help-blocks.js';
import { CommandUsageError, type Asker, type CommandAnswer, type CommandDeps } from './command-types.js';
import { digestCommand } from './digest.js';
import { answerForError } from './error-answers.js';
import { exportCommand } from './export.js';
import { listCommand } from './list.js';
import { overviewCommand } from './overview.js';
import { tokenize } from './parse-command.js';
import { stepCommand } from './step.js';
import { stepsCommand } from './steps.js';
import { thresholdsCommand } from './thresholds.js';

export const SUBCOMMANDS = ['help', 'list', 'overview', 'steps', 'step', 'export', 'digest', 'thresholds'] as const;

export async function dispatchJourneyCommand(deps: CommandDeps, asker: Asker, text: string): Promise<CommandAnswer> {
  const [sub, ...args] = tokenize(text);
  switch (sub?.toLowerCase()) {
    case undefined:
    case 'help':
      return { kind: 'message', visibility: 'ephemeral', message: buildHelpMessage() };
    case 'list':
      return listCommand(deps, args);
    case 'overview':
      return overviewCommand(deps, asker, args);
    case 'steps':
      return stepsCommand(deps, asker, args);
    case 'step':
      return stepCommand(deps, asker, args);
    case 'export':
      return exportCommand(deps, asker, args);
    case 'digest':
      return digestCommand(deps, asker, args);
    case 'thresholds':
      return thresholdsCommand(deps, asker, args);
    default:
      throw new CommandUsageError(
        `"${(sub ?? '').slice(0, 40)}" is not a /journey command. Try one of ${SUBCOMMANDS.map((s) => `\`${s}\``).join(', ')}, or \`/journey help\`.`,
      );
  }
}

export interface AnsweredCommand {
  answer: CommandAnswer;
  /** The error behind an error answer, for the log (never shown to the asker). */
  error?: unknown;
  /** The answer says what was wrong instead of answering (a usage error, an unknown journey, a failure). */
  refused?: true;
}

/** Answers any text: a domain error becomes a short answer to the asker, never an exception. */
export async function answerJourneyCommand(deps: CommandDeps, asker: Asker, text: string): Promise<AnsweredCommand> {
  try {
    return { answer: await dispatchJourneyCommand(deps, asker, text) };
  } catch (err) {
    const { answer, expected } = answerForError(err);
    return expected ? { answer, refused: true } : { answer, error: err, refused: true };
  }
}
