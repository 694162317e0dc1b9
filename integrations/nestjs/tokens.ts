/**
 * Injection token of the {@link PortkeyModuleOptions} given to `PortkeyModule.forRoot()` or made by
 * the `useFactory` of `PortkeyModule.forRootAsync()`. Inject it with `@Inject(PORTKEY_MODULE_OPTIONS)`
 * to read the app's Portkey defaults (the base URL, say) elsewhere.
 *
 * A `Symbol.for` key, so the ESM and the CJS build of the package loaded side by side agree on it.
 *
 * @example
 * ```ts
 * constructor(@Inject(PORTKEY_MODULE_OPTIONS) private readonly portkey: PortkeyModuleOptions) {}
 * ```
 */
export const PORTKEY_MODULE_OPTIONS: unique symbol = Symbol.for('portkey-context.nestjs.module-options');
