// Preloaded (node --import) into a README quick start run by quick-starts.test.ts: the block listens on
// port 3000 as pasted; here every listen() goes to a free port on 127.0.0.1 instead (tests run side by
// side, and nothing listens on other interfaces), and the port is reported to the test over IPC.
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function listenOnFreeLoopbackPort(...args) {
  const callback = args.find((a) => typeof a === 'function');
  this.once('listening', () => {
    const address = this.address();
    if (process.send && address && typeof address === 'object') process.send({ type: 'listening', port: address.port });
  });
  return callback ? listen.call(this, 0, '127.0.0.1', callback) : listen.call(this, 0, '127.0.0.1');
};
