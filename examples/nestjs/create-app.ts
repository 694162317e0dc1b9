import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { appModule } from './app.module.js';
import type { AppConfig } from './config.js';

/** Creates the example app on `@nestjs/platform-express` (default) or `@nestjs/platform-fastify`. */
export async function createExampleApp(config: AppConfig, platform: 'express' | 'fastify' = 'express'): Promise<INestApplication> {
  const module = appModule(config);
  if (platform === 'fastify') {
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    return NestFactory.create(module, new FastifyAdapter(), { logger: ['error', 'warn'] });
  }
  return NestFactory.create(module, { logger: ['error', 'warn'] });
}
