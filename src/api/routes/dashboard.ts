/**
 * `GET /dashboard`: the operator's live page (static files in src/api/dashboard/, no build step).
 *
 * The page shell is public (`auth: false`): it holds no data and no secret. Everything it shows
 * comes from /api/* with the operator's token, which the page asks for and keeps in sessionStorage
 * (Authorization header for fetch, `?access_token=` for the EventSource). A strict, self-only
 * Content-Security-Policy goes with every file: no inline script or style, no third party, no
 * framing, no form posts.
 *
 * Only the fixed files below are routed (no directory handler, so no path from the URL ever reaches
 * the file system).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import Boom from '@hapi/boom';
import type { ServerRoute } from '@hapi/hapi';
import type { Logger } from 'pino';

/** Path of the page. */
export const DASHBOARD_PATH = '/dashboard';

/**
 * Content-Security-Policy of the page and its assets: same-origin script, style, images and
 * connections (fetch, EventSource); nothing else. `form-action 'none'`: forms are handled in script,
 * so a page whose script failed cannot submit the token anywhere.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The files of the page (ES modules import each other by these paths): URL path → file name and content type. */
export const DASHBOARD_ASSETS: readonly { readonly path: string; readonly file: string; readonly type: string }[] = [
  { path: DASHBOARD_PATH, file: 'index.html', type: 'text/html; charset=utf-8' },
  { path: `${DASHBOARD_PATH}/app.js`, file: 'app.js', type: 'text/javascript; charset=utf-8' },
  { path: `${DASHBOARD_PATH}/call-board.js`, file: 'call-board.js', type: 'text/javascript; charset=utf-8' },
  { path: `${DASHBOARD_PATH}/campaigns.js`, file: 'campaigns.js', type: 'text/javascript; charset=utf-8' },
  { path: `${DASHBOARD_PATH}/format.js`, file: 'format.js', type: 'text/javascript; charset=utf-8' },
  { path: `${DASHBOARD_PATH}/gateway-client.js`, file: 'gateway-client.js', type: 'text/javascript; charset=utf-8' },
  { path: `${DASHBOARD_PATH}/transcripts.js`, file: 'transcripts.js', type: 'text/javascript; charset=utf-8' },
  { path: `${DASHBOARD_PATH}/style.css`, file: 'style.css', type: 'text/css; charset=utf-8' },
  { path: `${DASHBOARD_PATH}/favicon.svg`, file: 'favicon.svg', type: 'image/svg+xml' },
];

/**
 * Where the page's files are: beside this module's folder when run from source (tsx), or in the
 * source tree when run from `dist/` (tsc copies no static files). Undefined when neither has them.
 */
export function findDashboardDir(moduleDir: string = __dirname): string | undefined {
  const candidates = [
    path.resolve(moduleDir, '../dashboard'), // src/api/routes → src/api/dashboard (or a copy in dist)
    path.resolve(moduleDir, '../../../../src/api/dashboard'), // dist/src/api/routes → src/api/dashboard
  ];
  return candidates.find((dir) => existsSync(path.join(dir, 'index.html')));
}

/** Options of `dashboardRoutes`. */
export interface DashboardRoutesOptions {
  /** Told once at registration when the page's files cannot be found. */
  log: Logger;
  /** Folder of the DASHBOARD_ASSETS files; default `findDashboardDir()`. */
  assetsDir?: string;
}

/**
 * The dashboard routes. Needs @hapi/inert registered (for `h.file`). Without the files (a build
 * that did not ship them) the routes answer 404 saying so, and the API keeps working.
 */
export function dashboardRoutes(options: DashboardRoutesOptions): ServerRoute[] {
  const found = options.assetsDir ?? findDashboardDir();
  const dir = found !== undefined && existsSync(path.join(found, 'index.html')) ? found : undefined;
  if (dir === undefined) {
    options.log.error({ assetsDir: found ?? null, moduleDir: __dirname }, 'dashboard files not found; GET /dashboard will answer 404');
  }
  return DASHBOARD_ASSETS.map(
    (asset): ServerRoute => ({
      method: 'GET',
      path: asset.path,
      handler: (_request, h) => {
        if (dir === undefined) throw Boom.notFound('the dashboard files are not installed with this build');
        return h
          .file(path.join(dir, asset.file), { confine: false, etagMethod: 'hash' })
          .type(asset.type)
          .header('content-security-policy', DASHBOARD_CSP)
          .header('cross-origin-opener-policy', 'same-origin')
          .header('cross-origin-resource-policy', 'same-origin');
      },
      options: {
        auth: false, // the shell is public; its data needs the token (see the module comment)
        // Revalidate every time (ETag → 304): an upgraded gateway serves its new page at once.
        cache: { otherwise: 'no-cache' },
      },
    }),
  );
}
