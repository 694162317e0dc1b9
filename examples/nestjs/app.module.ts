import { type DynamicModule, Module } from '@nestjs/common';
import { PortkeyModule } from 'portkey-context/nestjs';
import { AskController } from './ask.controller.js';
import { chatModelProvider } from './chat-model.js';
import { APP_CONFIG, type AppConfig, configModule } from './config.js';

/** The example's root module; see {@link appModule}. */
@Module({})
export class AppModule {}

/**
 * The example app: `PortkeyModule.forRootAsync` takes its options from the config provider, and
 * every request gets a Portkey context with no other wiring.
 */
export function appModule(config: AppConfig): DynamicModule {
  return {
    module: AppModule,
    imports: [
      configModule(config),
      PortkeyModule.forRootAsync({
        inject: [APP_CONFIG],
        useFactory: (c: AppConfig) => ({ apiKey: c.portkeyApiKey, virtualKey: c.virtualKey, metadata: { app: 'nest-example' } }),
      }),
    ],
    controllers: [AskController],
    providers: [chatModelProvider],
  };
}
