import type { StubScript } from '../harness/index.js';

/**
 * Replies like a tool-using model: when tools are offered and the last message is not a tool
 * result, call the first tool; when structured output is asked for, answer with JSON; otherwise
 * echo. The `[slow:N]` marker in the user's text delays the reply by N ms.
 */
export const toolUsingModel: StubScript = (body) => {
  const messages: any[] = body?.messages ?? [];
  const last = messages.at(-1);
  const userText = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
  const delayMs = Number(/\[slow:(\d+)\]/.exec(String(userText))?.[1] ?? 0);
  if (body?.response_format?.type === 'json_schema') {
    return { delayMs, content: JSON.stringify({ answer: `structured: ${userText}`, confidence: 0.9 }) };
  }
  const forced = body?.tool_choice?.function?.name;
  if (forced) return { delayMs, toolCalls: [{ name: forced, arguments: { answer: `forced: ${userText}`, confidence: 0.5 } }] };
  if (Array.isArray(body?.tools) && body.tools.length > 0 && last?.role !== 'tool') {
    return { delayMs, toolCalls: [{ name: body.tools[0].function.name, arguments: { city: 'Paris' } }] };
  }
  if (last?.role === 'tool') return { delayMs, content: `final answer after tool: ${last.content}` };
  return { delayMs };
};
