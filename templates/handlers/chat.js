// Handlers for the `rooms` namespace of templates/chat.yaml.
//
// They run in AppSync's APPSYNC_JS runtime (a subset of JavaScript: no try/catch, no classic
// for loops, no async). AppSync finds them by their exported names. Keep this file under
// 32768 characters; `evctl validate` checks that.
import { util } from '@aws-appsync/utils';

const MAX_TEXT = 1000;

// Every publish to /rooms/...: long messages are cut to MAX_TEXT characters and marked, so
// one client cannot flood a room. Events without a `text` field pass through unchanged.
export function onPublish(ctx) {
  return ctx.events.map((event) => {
    const payload = event.payload;
    if (payload && typeof payload.text === 'string' && payload.text.length > MAX_TEXT) {
      return { id: event.id, payload: { ...payload, text: payload.text.slice(0, MAX_TEXT), truncated: true } };
    }
    return event;
  });
}

// Every subscribe to /rooms/...: a client follows one room at a time; `/rooms/*` (every room
// at once) is refused.
export function onSubscribe(ctx) {
  if (ctx.info.channel.path.endsWith('/*')) {
    util.unauthorized();
  }
}
