/**
 * The Nest test app both adapters serve: a passport-style guard, an interceptor, an exception
 * filter and controllers that call the real local gateway. Explicit tokens everywhere, as users of
 * bundlers must write them.
 */
import {
  type ArgumentsHost,
  Body,
  Catch,
  type CallHandler,
  type CanActivate,
  Controller,
  type DynamicModule,
  type ExceptionFilter,
  type ExecutionContext,
  ForbiddenException,
  Get,
  HttpException,
  Inject,
  Injectable,
  type MiddlewareConsumer,
  Module,
  type NestInterceptor,
  type NestModule,
  Post,
  Query,
  Req,
  UseFilters,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { map, type Observable } from 'rxjs';
import { getPortkeyContext, portkeyHeaders, tryGetPortkeyContext, withPortkeyOverrides } from 'portkey-context';
import {
  PORTKEY_MODULE_OPTIONS,
  PortkeyContextService,
  PortkeyMetadata,
  PortkeyModule,
  type PortkeyModuleOptions,
  PortkeyTraceId,
} from 'portkey-context/nestjs';
import type { GatewayStack } from '../harness/index.js';

/** Where the controllers send gateway calls; set by the test file once the stack is up. */
export const STACK = Symbol('stack');

/** passport's AuthGuard in miniature: sets `request.user` from `x-test-user` (on Fastify, on Fastify's request). */
@Injectable()
export class FakeAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest();
    const id = request.headers['x-test-user'];
    if (typeof id === 'string') request.user = { id, organisationId: `org-of-${id}` };
    request.guardTraceId = getPortkeyContext().traceId;
    return true;
  }
}

/** Records the trace ID it sees before and after the handler. */
@Injectable()
export class TraceInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest();
    request.interceptorTraceId = getPortkeyContext().traceId;
    return next.handle().pipe(
      map((body) => ({
        ...body,
        guardTraceId: request.guardTraceId,
        interceptorTraceId: request.interceptorTraceId,
        interceptorAfterTraceId: tryGetPortkeyContext()?.traceId,
      })),
    );
  }
}

/** Puts the request's trace ID and user into the error body. */
@Catch(HttpException)
export class TraceIdExceptionFilter implements ExceptionFilter {
  constructor(@Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: HttpException, host: ArgumentsHost): void {
    const context = tryGetPortkeyContext();
    this.adapterHost.httpAdapter.reply(
      host.switchToHttp().getResponse(),
      { statusCode: exception.getStatus(), message: exception.message, traceId: context?.traceId, user: context?.metadata._user },
      exception.getStatus(),
    );
  }
}

/** Calls the gateway with the service's headers. */
@Injectable()
export class AskService {
  constructor(
    @Inject(PortkeyContextService) private readonly portkey: PortkeyContextService,
    @Inject(STACK) private readonly stack: GatewayStack,
  ) {}

  async ask(text: string, useService: boolean) {
    const stack = this.stack;
    const headers = useService ? this.portkey.headers(stack.providerOptions) : portkeyHeaders(stack.providerOptions);
    const res = await fetch(`${stack.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: text }] }),
    });
    const body: any = await res.json();
    return { status: res.status, content: body.choices?.[0]?.message?.content, traceEcho: res.headers.get('x-portkey-trace-id') };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

@Controller()
@UseGuards(FakeAuthGuard)
@UseInterceptors(TraceInterceptor)
export class ChatController {
  constructor(
    @Inject(AskService) private readonly asker: AskService,
    @Inject(PortkeyContextService) private readonly portkey: PortkeyContextService,
  ) {}

  @Get('chat')
  async chat(@Query('q') q: string, @Query('delay') delay: string, @PortkeyTraceId() traceId: string, @PortkeyMetadata('_user') user: string) {
    await sleep(Number(delay ?? 0));
    const answer = await this.asker.ask(q ?? 'hi', true);
    return { ...answer, traceId, user, handlerTraceId: this.portkey.traceId, userAfterAwait: this.portkey.metadata._user };
  }

  @Post('json')
  async json(@Body() body: { question: string }) {
    await sleep(5);
    return { ...(await this.asker.ask(body.question, false)), traceId: this.portkey.traceId, user: this.portkey.metadata._user };
  }

  @Get('context')
  context(@PortkeyTraceId() traceId: string, @PortkeyMetadata() metadata: Record<string, unknown>, @Req() req: any) {
    return {
      traceId,
      metadata,
      serviceTraceId: this.portkey.traceId,
      serviceMetadata: this.portkey.metadata,
      headers: this.portkey.headers(),
      scoped: this.portkey.run({ metadata: { feature: 'scoped' }, cacheNamespace: 'ns' }, () => this.portkey.headers()),
      afterScope: this.portkey.headers(),
      middlewareTraceId: (req.raw ?? req).middlewareTraceId,
      appUseTraceId: (req.raw ?? req).appUseTraceId,
    };
  }

  /** Served inside the `withPortkeyOverrides` scope a user middleware opened (see the AppModule). */
  @Get('scoped')
  async scoped(@PortkeyTraceId() traceId: string, @PortkeyMetadata() metadata: Record<string, unknown>) {
    return { ...(await this.asker.ask('scoped', true)), traceId, metadata };
  }

  @Get('boom')
  @UseFilters(TraceIdExceptionFilter)
  async boom(): Promise<never> {
    await sleep(5);
    throw new ForbiddenException('no entry');
  }
}

@Controller({ path: 'versioned', version: '1' })
@UseGuards(FakeAuthGuard)
export class VersionedController {
  constructor(@Inject(AskService) private readonly asker: AskService) {}

  @Get()
  async get(@PortkeyTraceId() traceId: string, @PortkeyMetadata('_user') user: string) {
    return { ...(await this.asker.ask('versioned', true)), traceId, user };
  }
}

/** The stand-in for @nestjs/config: a provider that supplies the Portkey API key. */
@Injectable()
export class ConfigService {
  readonly #values: Record<string, string> = { PORTKEY_API_KEY: 'pk-from-config', APP_NAME: 'async-app' };
  get(key: string): string | undefined {
    return this.#values[key];
  }
}

@Module({ providers: [ConfigService], exports: [ConfigService] })
export class ConfigModule {}

/** @Controller whose handler reads the options token (explicit injection of PORTKEY_MODULE_OPTIONS). */
@Controller('options')
export class OptionsController {
  constructor(@Inject(PORTKEY_MODULE_OPTIONS) private readonly options: PortkeyModuleOptions) {}

  @Get()
  get() {
    return { apiKey: this.options.apiKey };
  }
}

/** The app under test: `portkey` is PortkeyModule.forRoot(…) or forRootAsync(…). */
export function createAppModule(portkey: DynamicModule, stack: GatewayStack) {
  @Module({
    imports: [portkey],
    controllers: [ChatController, VersionedController, OptionsController],
    providers: [AskService, { provide: STACK, useValue: stack }],
  })
  class AppModule implements NestModule {
    /** A user middleware in a non-global module: it runs after PortkeyModule's, inside the context. */
    configure(consumer: MiddlewareConsumer) {
      consumer
        .apply((req: any, _res: unknown, next: () => void) => {
          req.middlewareTraceId = tryGetPortkeyContext()?.traceId ?? 'none';
          next();
        })
        .forRoutes('{*path}');
      // A scope opened before guards run: the user a guard sets later must still be in its metadata.
      consumer
        .apply((_req: unknown, _res: unknown, next: () => void) => withPortkeyOverrides({ metadata: { scope: 'middleware' } }, next))
        .forRoutes('scoped');
    }
  }
  return AppModule;
}

/** forRoot options of the main app. */
export const forRootOptions: PortkeyModuleOptions = { apiKey: 'pk-app-key', metadata: { app: 'shop' } };

/** forRootAsync of the second app: options from the ConfigService, after an await. */
export function asyncPortkeyModule(): DynamicModule {
  return PortkeyModule.forRootAsync({
    imports: [ConfigModule],
    inject: [ConfigService],
    useFactory: async (config: ConfigService) => {
      await sleep(1);
      return {
        apiKey: config.get('PORTKEY_API_KEY'),
        responseHeader: 'x-trace',
        metadata: (req, defaults) => ({ ...defaults, app: config.get('APP_NAME'), path: String(req.url).split('?')[0] }),
      };
    },
  });
}
