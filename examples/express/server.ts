/** Runs the example: `PORTKEY_API_KEY=… PORTKEY_VIRTUAL_KEY=… npx tsx examples/express/server.ts` */
import { createApp } from './app.js';

const app = createApp({ virtualKey: process.env.PORTKEY_VIRTUAL_KEY });
const port = Number(process.env.PORT ?? 3000);
app.listen(port, '127.0.0.1', () => console.log(`example listening on http://127.0.0.1:${port}`));
