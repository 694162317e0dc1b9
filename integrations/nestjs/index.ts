export { PortkeyMetadata, PortkeyTraceId } from './decorators.js';
export type { PortkeyModuleAsyncOptions, PortkeyModuleOptions, PortkeyNestRequest } from './options.js';
export { PortkeyContextService } from './portkey-context.service.js';
export { PortkeyModule } from './portkey.module.js';
export { PORTKEY_MODULE_OPTIONS } from './tokens.js';
