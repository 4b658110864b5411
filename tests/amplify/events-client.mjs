// Drives the official Amplify events client (aws-amplify/data `events`) against an Event API:
// subscribe over WSS, publish over HTTP and over the socket, and check both events arrive.
// Usage: node events-client.mjs https://HOST:PORT/event API_KEY [channel-namespace]
// For the emulator: start it with --tls and set NODE_EXTRA_CA_CERTS to the CA it prints.
// Prints one JSON line per received event, then "ok"; exits 1 on any failure or after 20 s.
import { Amplify } from 'aws-amplify';
import { events } from 'aws-amplify/data';

if (typeof globalThis.WebSocket === 'undefined') {
  // Node 20 has no global WebSocket unless started with --experimental-websocket.
  globalThis.WebSocket = (await import('ws')).WebSocket;
}

const [endpoint, apiKey, namespace = 'default'] = process.argv.slice(2);
if (!endpoint || !apiKey) {
  console.error('usage: node events-client.mjs https://HOST:PORT/event API_KEY [namespace]');
  process.exit(2);
}
setTimeout(() => { console.error('timed out'); process.exit(1); }, 20_000).unref();

Amplify.configure({
  API: { Events: { endpoint, region: 'us-east-1', defaultAuthMode: 'apiKey', apiKey } },
});

const channelName = `/${namespace}/amplify`;
const channel = await events.connect(channelName);
const received = [];
const done = new Promise((resolve, reject) => {
  channel.subscribe({
    next: (message) => {
      console.log(JSON.stringify(message.event));
      received.push(message.event);
      if (received.length === 2) resolve();
    },
    error: reject,
  });
});
// Give the subscription time to be acknowledged (Amplify resolves subscribe() before the ack).
await new Promise((r) => setTimeout(r, 1000));
const failed = await events.post(channelName, { via: 'http' });
if (failed) throw new Error(`HTTP publish reported failures: ${JSON.stringify(failed)}`);
await channel.publish({ via: 'websocket' });
await done;
channel.close();
console.log('ok');
process.exit(0);
