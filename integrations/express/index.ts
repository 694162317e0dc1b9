export { type PortkeyExpressRequest, type PortkeyMiddlewareOptions, portkeyMiddleware } from './middleware.js';
