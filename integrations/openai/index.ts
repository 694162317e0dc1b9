export { type OpenAIRequestOptions, portkeyCall } from './call-options.js';
export { createPortkeyOpenAI, type PortkeyOpenAIOptions } from './client.js';
export { type PortkeyResponseMetadata, type PortkeyResponseSource, portkeyResponseMetadata } from '../../src/response-metadata.js';
