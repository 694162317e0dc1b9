export { createPortkeyClient, type PortkeyAiClient } from './client.js';
export { type PortkeyResponseMetadata, type PortkeyResponseSource, portkeyResponseMetadata } from '../../src/response-metadata.js';
