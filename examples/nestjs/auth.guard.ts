import { type CanActivate, type ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';

/**
 * Stand-in for passport's `AuthGuard('jwt')`: `Authorization: Bearer <user>@<org>` signs a user in
 * and sets `request.user` — on Fastify, on Fastify's request, which portkey-context reads too.
 */
@Injectable()
export class DemoAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest();
    const token = /^Bearer (\w+)@(\w+)$/.exec(request.headers.authorization ?? '');
    if (!token) throw new UnauthorizedException('Send Authorization: Bearer <user>@<org>');
    request.user = { id: token[1], organisationId: token[2] };
    return true;
  }
}
