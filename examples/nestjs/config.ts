/**
 * A stand-in for `@nestjs/config`: the example's settings, read once from the environment, behind
 * an injection token. With `@nestjs/config`, inject `ConfigService` instead.
 */
import { type DynamicModule, Global, Module } from '@nestjs/common';

/** Injection token of {@link AppConfig}. */
export const APP_CONFIG = Symbol('APP_CONFIG');

/** The example's settings. */
export interface AppConfig {
  /** Portkey API key; `PORTKEY_API_KEY`. */
  portkeyApiKey?: string;
  /** Portkey virtual key of the provider; `PORTKEY_VIRTUAL_KEY`. */
  virtualKey?: string;
  /** The gateway; `PORTKEY_BASE_URL`, else Portkey's hosted gateway. */
  baseURL?: string;
  /** Provider routing for a self-hosted gateway (`provider`, `customHost`, `authorization`). */
  provider?: string;
  customHost?: string;
  authorization?: string;
  /** The chat model; `CHAT_MODEL`, default `gpt-4o-mini`. */
  model: string;
}

/** Reads the settings from environment variables. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): AppConfig {
  return {
    portkeyApiKey: env.PORTKEY_API_KEY,
    virtualKey: env.PORTKEY_VIRTUAL_KEY,
    baseURL: env.PORTKEY_BASE_URL,
    model: env.CHAT_MODEL ?? 'gpt-4o-mini',
  };
}

/** Provides {@link APP_CONFIG} to the whole app. */
@Global()
@Module({})
export class ConfigModule {}

/** {@link ConfigModule} with the given settings. */
export function configModule(config: AppConfig): DynamicModule {
  return { module: ConfigModule, providers: [{ provide: APP_CONFIG, useValue: config }], exports: [APP_CONFIG] };
}
