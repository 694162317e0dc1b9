/**
 * What a LangChain answer says it used — the `usage_metadata` LangChain parsed from the provider's
 * `usage` — in the usage ledger's terms. `ChatPortkey` records its calls from it, so their
 * answers' bodies are not observed a second time.
 */
import type { UsageMetadata } from '@langchain/core/messages';
import { answerUsage } from '../../src/answer-usage.js';
import type { AnswerUsage } from '../../src/usage-ledger.js';

/**
 * Read as an answer's `usage` is ({@link answerUsage}), from LangChain's names for it.
 *
 * @param usage - a message's (or the last streamed chunk's) `usage_metadata`.
 * @param model - the model that answered (`response_metadata.model_name`, or a stream's finish chunk's).
 */
export function messageUsage(usage: UsageMetadata | undefined, model: unknown): AnswerUsage | undefined {
  if (usage === undefined && model === undefined) return undefined;
  return answerUsage({
    model,
    usage: usage && {
      input_tokens: usage.input_tokens,
      output_tokens: usage.output_tokens,
      total_tokens: usage.total_tokens,
      input_tokens_details: { cached_tokens: usage.input_token_details?.cache_read },
    },
  });
}
