// Each admin's ICS feed: the capability in the URL is the only credential (calendar apps cannot send tokens).
import { Hono } from 'hono';
import { eq } from 'drizzle-orm';
import { loadFeedEvents, renderFeed } from '../../activities/providers/ics';
import { admins } from '../../db/schema';
import { feedTokenAdminId, feedTokenMatches } from '../feedToken';
import { problemResponse } from '../problem';
import type { AppEnv } from '../types';

export function feedRoutes() {
  const app = new Hono<AppEnv>();
  app.get('/feeds/:file', async (c) => {
    const { db, sealer } = c.get('deps');
    const file = c.req.param('file');
    const token = file.endsWith('.ics') ? file.slice(0, -4) : null;
    const adminId = token ? feedTokenAdminId(token) : null;
    const [admin] = adminId ? await db.select().from(admins).where(eq(admins.id, adminId)) : [];
    // One answer for every kind of bad URL: nothing tells which part was wrong.
    if (!token || !admin || !feedTokenMatches(sealer, token, admin.id, admin.feedTokenVersion)) return problemResponse(c, 404, 'No such feed.');
    const body = renderFeed(admin.displayName, await loadFeedEvents(db, admin.id));
    return c.body(body, 200, { 'content-type': 'text/calendar; charset=utf-8', 'cache-control': 'private, max-age=60' });
  });
  return app;
}
