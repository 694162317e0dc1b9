import { Body, Controller, Get, Inject, Post, UseGuards } from '@nestjs/common';
import type { ChatPortkey } from 'portkey-context/langchain';
import { PortkeyContextService, PortkeyMetadata, PortkeyTraceId } from 'portkey-context/nestjs';
import { DemoAuthGuard } from './auth.guard.js';
import { CHAT_MODEL } from './chat-model.js';

/** `POST /ask { question }`: answers through the gateway, traced per request and attributed to the user. */
@Controller()
@UseGuards(DemoAuthGuard)
export class AskController {
  // explicit tokens: tsx / esbuild / bundlers emit no decorator metadata
  constructor(
    @Inject(CHAT_MODEL) private readonly model: ChatPortkey,
    @Inject(PortkeyContextService) private readonly portkey: PortkeyContextService,
  ) {}

  @Post('ask')
  async ask(@Body() body: { question?: string }, @PortkeyTraceId() traceId: string, @PortkeyMetadata('_user') user: string) {
    // tag this call with a feature, on top of the request's trace ID and user
    const reply = await this.portkey.run({ metadata: { feature: 'ask' } }, () => this.model.invoke(String(body?.question ?? '')));
    return { traceId, user, answer: reply.content };
  }

  @Get('whoami')
  whoami() {
    return { traceId: this.portkey.traceId, metadata: this.portkey.metadata };
  }
}
