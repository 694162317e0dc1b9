// Typecheck consumer: imports the package root and its three subpaths as a TypeScript app would,
// and uses each entry's main API. A CommonJS file under every tsconfig here; the runner also copies
// it to consumer.mts, the ES module that tsconfig.nodenext.json checks beside it.
import express from 'express';
import { portkeyHeaders, runWithPortkeyContext } from 'portkey-context';
import { portkeyMiddleware } from 'portkey-context/express';
import { ChatPortkey } from 'portkey-context/langchain';
import { type PortkeyContextService, PortkeyModule } from 'portkey-context/nestjs';

const app = express();
app.use(portkeyMiddleware({ apiKey: 'pk' }));
app.get('/', (req, res) => {
  res.json({ traceId: req.portkey.traceId, headers: portkeyHeaders() });
});
const model = new ChatPortkey({ model: 'gpt-4o-mini', apiKey: 'pk' });
export const nestModule = PortkeyModule.forRoot({ apiKey: 'pk' });
export const reply = runWithPortkeyContext({ traceId: 't' }, () => model.invoke('hi', { portkey: { metadata: { step: 'one' } } }));
export const traceOf = (service: PortkeyContextService): string => service.traceId;
