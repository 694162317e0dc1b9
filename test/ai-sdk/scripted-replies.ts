import type { StubScript } from '../harness/index.js';

/**
 * The stub LLM answering as a model the AI SDK drives: structured output (a `json_schema`
 * response format) gets JSON; offered tools get a call to the first one until a tool result is
 * in the conversation, which is then quoted; anything else is echoed. `[slow:N]` in the user's
 * text delays the reply by N ms.
 */
export const aiSdkReplies: StubScript = (body) => {
  const messages: any[] = body?.messages ?? [];
  const last = messages.at(-1);
  const userText = String([...messages].reverse().find((m) => m.role === 'user')?.content ?? '');
  const delayMs = Number(/\[slow:(\d+)\]/.exec(userText)?.[1] ?? 0);
  if (body?.response_format?.type === 'json_schema') {
    return { delayMs, content: JSON.stringify({ city: 'Paris', temperatureC: 21 }) };
  }
  if (Array.isArray(body?.tools) && body.tools.length > 0 && last?.role !== 'tool') {
    return { delayMs, toolCalls: [{ name: body.tools[0].function.name, arguments: { city: 'Paris' } }] };
  }
  if (last?.role === 'tool') return { delayMs, content: `final answer after tool: ${last.content}` };
  return { delayMs };
};
