// Preloaded into the Portkey gateway (node --import): the gateway has no host option and listens on
// every interface, so every listen() is pinned to 127.0.0.1 and the port is reported over IPC.
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function listenOnLoopback(...args) {
  if (typeof args[0] === 'number' || typeof args[0] === 'string') {
    const callback = args.find((a) => typeof a === 'function');
    args = callback ? [Number(args[0]), '127.0.0.1', callback] : [Number(args[0]), '127.0.0.1'];
  } else if (args[0] && typeof args[0] === 'object' && !('fd' in args[0]) && !('path' in args[0])) {
    args[0] = { ...args[0], host: '127.0.0.1' };
  }
  this.once('listening', () => {
    const address = this.address();
    if (process.send && address && typeof address === 'object') process.send({ type: 'listening', port: address.port });
  });
  return listen.apply(this, args);
};
