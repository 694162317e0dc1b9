export { ChatPortkey, type ChatPortkeyCallOptions, type ChatPortkeyInput } from './chat-portkey.js';
export { type PortkeyResponseMetadata, portkeyResponseMetadata } from './gateway-fetch.js';
