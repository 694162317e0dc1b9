import type { FactoryProvider } from '@nestjs/common';
import { ChatPortkey } from 'portkey-context/langchain';
import { APP_CONFIG, type AppConfig } from './config.js';

/** Injection token of the app's one {@link ChatPortkey}. */
export const CHAT_MODEL = Symbol('CHAT_MODEL');

/**
 * `ChatPortkey` as a plain singleton provider: one model for the whole app. It reads the request's
 * Portkey context (trace ID, user) on every call, so it needs no request scope.
 */
export const chatModelProvider: FactoryProvider<ChatPortkey> = {
  provide: CHAT_MODEL,
  inject: [APP_CONFIG],
  useFactory: (config: AppConfig) =>
    new ChatPortkey({
      model: config.model,
      apiKey: config.portkeyApiKey,
      virtualKey: config.virtualKey,
      baseURL: config.baseURL,
      provider: config.provider,
      customHost: config.customHost,
      authorization: config.authorization,
      maxRetries: 1,
    }),
};
