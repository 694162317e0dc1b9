/**
 * Runs the example against a real Portkey gateway:
 *   PORTKEY_API_KEY=… PORTKEY_VIRTUAL_KEY=… npx tsx examples/express/server.ts
 *   curl -X POST localhost:3000/ask -H 'authorization: Bearer alice@acme' -H 'content-type: application/json' -d '{"question":"Hi"}'
 */
import { createApp } from './app.js';

const app = createApp({ virtualKey: process.env.PORTKEY_VIRTUAL_KEY });
const port = Number(process.env.PORT ?? 3000);
app.listen(port, '127.0.0.1', () => console.log(`example listening on http://127.0.0.1:${port}`));
