// Checks a built SlackMessage against the limits Slack enforces, so a test fails where Slack would reject the post.
import type { Button, KnownBlock, TextObject } from '@slack/types';
import { SLACK_LIMITS, type SlackMessage, type SlackMessagePart } from '../../reports/blocks/slack-message.js';

/** Throws an Error naming every limit the message or any of its thread messages breaks. */
export function assertWithinSlackLimits(message: SlackMessage): void {
  const problems = [
    ...partProblems(message, 'message'),
    ...message.thread.flatMap((part, i) => partProblems(part, `thread[${i}]`)),
  ];
  if (problems.length > 0) throw new Error(`Slack would reject this message:\n- ${problems.join('\n- ')}`);
}

function partProblems(part: SlackMessagePart, where: string): string[] {
  const problems: string[] = [];
  const check = (ok: boolean, problem: string) => {
    if (!ok) problems.push(`${where}: ${problem}`);
  };
  const checkText = (text: TextObject | undefined, max: number, path: string) => {
    if (text === undefined) return;
    const length = Array.from(text.text).length;
    check(length >= 1, `${path} is empty`);
    check(length <= max, `${path} has ${length} characters (max ${max})`);
  };

  check(part.text.length >= 1, 'text is empty');
  check(part.text.length <= SLACK_LIMITS.messageText, `text has ${part.text.length} characters (max ${SLACK_LIMITS.messageText})`);
  check(part.blocks.length >= 1, 'has no blocks');
  check(
    part.blocks.length <= SLACK_LIMITS.blocksPerMessage,
    `has ${part.blocks.length} blocks (max ${SLACK_LIMITS.blocksPerMessage})`,
  );

  part.blocks.forEach((block: KnownBlock, b) => {
    const at = `blocks[${b}]`;
    const actionIds: string[] = [];
    const buttons: Button[] = [];
    switch (block.type) {
      case 'header':
        check(block.text.type === 'plain_text', `${at} header text is not plain_text`);
        checkText(block.text, SLACK_LIMITS.headerText, `${at} header`);
        break;
      case 'section':
        check(block.text !== undefined || (block.fields?.length ?? 0) > 0, `${at} section has neither text nor fields`);
        checkText(block.text, SLACK_LIMITS.sectionText, `${at} section text`);
        check(
          (block.fields?.length ?? 0) <= SLACK_LIMITS.fieldsPerSection,
          `${at} has ${block.fields?.length} fields (max ${SLACK_LIMITS.fieldsPerSection})`,
        );
        block.fields?.forEach((f, i) => checkText(f, SLACK_LIMITS.fieldText, `${at} fields[${i}]`));
        if (block.accessory?.type === 'button') buttons.push(block.accessory);
        break;
      case 'context':
        check(block.elements.length >= 1, `${at} context is empty`);
        check(block.elements.length <= SLACK_LIMITS.contextElements, `${at} context has ${block.elements.length} elements`);
        block.elements.forEach((e, i) => {
          if (e.type === 'mrkdwn' || e.type === 'plain_text') checkText(e, SLACK_LIMITS.contextText, `${at} elements[${i}]`);
        });
        break;
      case 'actions':
        check(block.elements.length >= 1, `${at} actions block is empty`);
        check(block.elements.length <= SLACK_LIMITS.actionsElements, `${at} has ${block.elements.length} elements`);
        for (const e of block.elements) if (e.type === 'button') buttons.push(e);
        break;
      case 'image': {
        const alt = Array.from(block.alt_text).length;
        check(alt >= 1 && alt <= 2000, `${at} image alt_text has ${alt} characters (1–2000)`);
        if (block.title) checkText(block.title, 2000, `${at} image title`);
        const url = 'image_url' in block ? block.image_url : undefined;
        const file = 'slack_file' in block ? block.slack_file : undefined;
        check((url === undefined) !== (file === undefined), `${at} image needs exactly one of image_url and slack_file`);
        check(url === undefined || url.length <= 3000, `${at} image_url has ${url?.length} characters (max 3000)`);
        break;
      }
      default:
        break;
    }
    for (const [i, btn] of buttons.entries()) {
      const path = `${at} button ${i}`;
      checkText(btn.text, SLACK_LIMITS.buttonText, `${path} text`);
      check(btn.text.type === 'plain_text', `${path} text is not plain_text`);
      check(btn.action_id !== undefined && btn.action_id.length <= SLACK_LIMITS.actionId, `${path} action_id missing or too long`);
      check(btn.value === undefined || btn.value.length <= SLACK_LIMITS.buttonValue, `${path} value too long`);
      check(btn.url === undefined || btn.url.length <= SLACK_LIMITS.buttonUrl, `${path} url too long`);
      if (btn.action_id !== undefined) actionIds.push(btn.action_id);
    }
    check(new Set(actionIds).size === actionIds.length, `${at} repeats an action_id (${actionIds.join(', ')})`);
  });
  return problems;
}
