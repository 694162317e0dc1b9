export type { PortkeyCallOptions } from './call-options.js';
export { createPortkey, type PortkeyProvider, type PortkeyProviderSettings } from './provider.js';
export { type PortkeyResponseMetadata, type PortkeyResponseSource, portkeyResponseMetadata } from '../../src/response-metadata.js';
