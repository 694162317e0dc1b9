/**
 * An app that loads both builds of the package (ESM `import` in one file, CJS `require` in another,
 * or a dependency that requires it) gets one behaviour: one store, scopes and re-entered contexts
 * that work across builds, and one `instanceof PortkeyContextError`.
 */
import { createRequire } from 'node:module';
import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const cjs = require('../../dist/cjs/src/index.js');
const cjsExpress = require('../../dist/cjs/integrations/express/index.js');
const esm = await import('../../dist/esm/src/index.js' as string);
const esmExpress = await import('../../dist/esm/integrations/express/index.js' as string);

describe('the ESM and CJS builds loaded side by side', () => {
  it('share one store', async () => {
    esm.runWithPortkeyContext({ traceId: 'shared-1' }, () => {
      expect(cjs.getPortkeyContext().traceId).toBe('shared-1');
      expect(cjs.portkeyHeaders()['x-portkey-trace-id']).toBe('shared-1');
    });
    await cjs.runWithPortkeyContext({ traceId: 'shared-2' }, async () => expect(esm.getPortkeyContext().traceId).toBe('shared-2'));
  });

  it.each([
    ['ESM middleware, CJS scope', esmExpress, cjs],
    ['CJS middleware, ESM scope', cjsExpress, esm],
  ])('%s: req.portkey is the request context inside the other build\'s scope', async (_name, mw, scopes) => {
    const app = express();
    app.use(mw.portkeyMiddleware({ apiKey: 'pk-two-builds' }));
    app.use((req, _res, next) => {
      (req as { user?: unknown }).user = { id: 'u-late' }; // auth after the middleware
      next();
    });
    app.get('/', (req, res) => {
      scopes.withPortkeyOverrides({ metadata: { feature: 'scoped' } }, () => {
        const portkey = (req as unknown as { portkey?: { traceId: string; metadata: Record<string, unknown> } }).portkey;
        res.json({ traceId: portkey?.traceId, metadata: portkey?.metadata, headers: scopes.portkeyHeaders() });
      });
    });
    const res = await request(app).get('/').set('x-request-id', 'two-builds-1').expect(200);
    expect(res.body.traceId).toBe('two-builds-1');
    expect(res.body.metadata._user).toBe('u-late');
    expect(res.body.metadata.feature).toBeUndefined(); // req.portkey is the request's own context
    expect(JSON.parse(res.body.headers['x-portkey-metadata'])).toMatchObject({ _user: 'u-late', feature: 'scoped' });
  });

  it('re-enters a context made by the other build without freezing its metadata', () => {
    let user: string | undefined;
    const made = cjs.runWithPortkeyContext({ traceId: 're-enter-1', metadata: () => (user ? { _user: user } : {}) }, () =>
      cjs.getPortkeyContext(),
    );
    user = 'set-later';
    esm.runWithPortkeyContext(made, () => {
      expect(esm.getPortkeyContext()).toBe(made);
      expect(JSON.parse(esm.portkeyHeaders()['x-portkey-metadata'])).toEqual({ _user: 'set-later' });
    });
  });

  it('agree on instanceof PortkeyContextError, and only for it', () => {
    const fromCjs = (() => {
      try {
        cjs.getPortkeyContext();
      } catch (error) {
        return error;
      }
    })();
    const fromEsm = (() => {
      try {
        esm.getPortkeyContext();
      } catch (error) {
        return error;
      }
    })();
    expect(fromCjs instanceof esm.PortkeyContextError).toBe(true);
    expect(fromEsm instanceof cjs.PortkeyContextError).toBe(true);
    expect(fromCjs).toMatchObject({ code: 'NO_CONTEXT', name: 'PortkeyContextError' });
    expect(new Error('x') instanceof esm.PortkeyContextError).toBe(false);
    expect(Object.create(null) instanceof cjs.PortkeyContextError).toBe(false);
    expect({ code: 'NO_CONTEXT' } instanceof cjs.PortkeyContextError).toBe(false);
  });
});
