/**
 * The Nest app of the disconnect tests: one shared ChatPortkey (`maxConcurrency: 1`) behind
 * `POST /chat` (invoke), `POST /stream` (SSE written to Node's response) and `GET /signal` (the
 * service's view of the request signal). Each handler records how its call ended. Explicit tokens,
 * as in app.ts.
 */
import { Body, Controller, type DynamicModule, Get, HttpException, Inject, Module, Post, Res } from '@nestjs/common';
import { PortkeyContextService } from 'portkey-context/nestjs';
import type { ChatPortkey } from 'portkey-context/langchain';

/** What the controller shares with the test: the model (set once the stack is up) and the outcomes. */
export interface DisconnectState {
  model?: ChatPortkey;
  /** 'answered' / 'streamed', or the error's `code ?? name`, in the order the calls ended. */
  outcomes: string[];
  /** `signal.aborted` after a slow handler's wait, for a handler that took the signal before waiting. */
  abortedDuringWait: (boolean | undefined)[];
  /** The signals the slow `/chat` handler and `GET /signal` took, kept past their responses. */
  signals: (AbortSignal | undefined)[];
}

export const DISCONNECT_STATE = Symbol('disconnect-state');

interface ChatBody {
  q?: string;
  /** The handler waits this long before calling the model (a slow handler). */
  waitMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

@Controller()
export class DisconnectController {
  constructor(
    @Inject(DISCONNECT_STATE) private readonly state: DisconnectState,
    @Inject(PortkeyContextService) private readonly portkey: PortkeyContextService,
  ) {}

  @Post('chat')
  async chat(@Body() body: ChatBody) {
    if (body?.waitMs) {
      // Take the signal before the wait: its listener is then in place while the body has been read
      // and the handler is still busy — a signal bound to the request's end would fire here.
      const signal = this.portkey.signal;
      this.state.signals.push(signal);
      await sleep(body.waitMs);
      this.state.abortedDuringWait.push(signal?.aborted);
    }
    try {
      const reply = await this.state.model!.invoke(String(body?.q));
      this.state.outcomes.push('answered');
      return { answer: reply.content };
    } catch (err: any) {
      this.state.outcomes.push(err.code ?? err.name);
      throw new HttpException({ error: err.message }, 502);
    }
  }

  /** SSE on Node's response: Express's response is one; on Fastify it is `reply.raw` (the reply is hijacked). */
  @Post('stream')
  async stream(@Body() body: ChatBody, @Res() res: any) {
    if (typeof res.hijack === 'function') res.hijack(); // Fastify: the handler answers through reply.raw
    const raw = res.raw ?? res;
    try {
      raw.writeHead(200, { 'content-type': 'text/event-stream' });
      for await (const chunk of await this.state.model!.stream(String(body?.q))) raw.write(`data: ${JSON.stringify(chunk.content)}\n\n`);
      this.state.outcomes.push('streamed');
      raw.end('event: done\ndata: {}\n\n');
    } catch (err: any) {
      this.state.outcomes.push(err.code ?? err.name);
      raw.end();
    }
  }

  @Get('signal')
  signal() {
    this.state.signals.push(this.portkey.signal);
    return { aborted: this.portkey.signal?.aborted, hasSignal: this.portkey.signal !== undefined };
  }
}

/** The app: `portkey` is `PortkeyModule.forRoot(…)`. */
export function createDisconnectModule(portkey: DynamicModule, state: DisconnectState) {
  @Module({
    imports: [portkey],
    controllers: [DisconnectController],
    providers: [{ provide: DISCONNECT_STATE, useValue: state }],
  })
  class DisconnectAppModule {}
  return DisconnectAppModule;
}
