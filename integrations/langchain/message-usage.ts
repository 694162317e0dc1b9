/**
 * What a LangChain answer says it used — the `usage_metadata` LangChain parsed from the provider's
 * `usage` — in the usage ledger's terms. `ChatPortkey` records its calls from it, so their
 * answers' bodies are not observed a second time.
 */
import type { UsageMetadata } from '@langchain/core/messages';
import type { AnswerUsage } from '../../src/usage-ledger.js';

const count = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined);

/**
 * @param usage - a message's (or the last streamed chunk's) `usage_metadata`.
 * @param model - the model that answered (`response_metadata.model_name`, or a stream's finish chunk's).
 */
export function messageUsage(usage: UsageMetadata | undefined, model: unknown): AnswerUsage | undefined {
  const out: AnswerUsage = {};
  if (typeof model === 'string' && model !== '') out.model = model;
  if (usage !== undefined && usage !== null) {
    const input = count(usage.input_tokens);
    const output = count(usage.output_tokens);
    const cached = count(usage.input_token_details?.cache_read);
    const total = count(usage.total_tokens);
    if (input !== undefined) out.inputTokens = input;
    if (output !== undefined) out.outputTokens = output;
    if (cached !== undefined) out.cachedInputTokens = cached;
    if (total !== undefined) out.totalTokens = total;
  }
  return out.model === undefined && usage === undefined ? undefined : out;
}
