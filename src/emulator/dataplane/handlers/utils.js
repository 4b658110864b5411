// The `@aws-appsync/utils` module of the emulator's handler runtime: the subset of AppSync's
// built-in utilities that needs no data source. `util.error`, `util.unauthorized` and
// `runtime.earlyReturn` throw a marked object that the emulator turns into AppSync's answer.
const native = globalThis.__evctl;
const SIGNAL = '__evctlSignal';

function signal(kind, fields) {
  const thrown = Object.assign({}, fields);
  thrown[SIGNAL] = kind;
  throw thrown;
}

function isMap(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isBlank(value) {
  return typeof value === 'string' && value.trim() === '';
}

export const util = {
  error(message, errorType, data, errorInfo) {
    signal('error', { message: String(message), errorType, data, errorInfo });
  },
  unauthorized() {
    signal('unauthorized', {});
  },
  appendError(message, errorType, data, errorInfo) {
    native.appendError(JSON.stringify({ message: String(message), errorType, data, errorInfo }));
  },
  base64Encode: (text) => native.base64Encode(String(text)),
  base64Decode: (text) => native.base64Decode(String(text)),
  // application/x-www-form-urlencoded, as Java's URLEncoder (AppSync's reference) does it.
  urlEncode: (text) =>
    encodeURIComponent(String(text))
      .replace(/[!'()~]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
      .replace(/%20/g, '+'),
  urlDecode: (text) => decodeURIComponent(String(text).replace(/\+/g, ' ')),
  autoId: () => native.autoId(),
  escapeJavaScript: (text) => JSON.stringify(String(text)).slice(1, -1),
  isNull: (value) => value === null || value === undefined,
  isNullOrEmpty: (value) => value === null || value === undefined || value === '',
  isNullOrBlank: (value) => value === null || value === undefined || isBlank(value),
  defaultIfNull: (value, fallback) => (value === null || value === undefined ? fallback : value),
  defaultIfNullOrEmpty: (value, fallback) =>
    value === null || value === undefined || value === '' ? fallback : value,
  defaultIfNullOrBlank: (value, fallback) =>
    value === null || value === undefined || isBlank(value) ? fallback : value,
  isString: (value) => typeof value === 'string',
  isNumber: (value) => typeof value === 'number',
  isBoolean: (value) => typeof value === 'boolean',
  isList: (value) => Array.isArray(value),
  isMap,
  typeOf(value) {
    if (value === null || value === undefined) return 'Null';
    if (Array.isArray(value)) return 'List';
    if (typeof value === 'string') return 'String';
    if (typeof value === 'number') return 'Number';
    if (typeof value === 'boolean') return 'Boolean';
    return 'Map';
  },
  time: {
    nowISO8601: () => new Date().toISOString(),
    nowEpochSeconds: () => Math.floor(Date.now() / 1000),
    nowEpochMilliSeconds: () => Date.now(),
  },
};

export const runtime = {
  earlyReturn(value) {
    signal('earlyReturn', { value });
  },
};

export default { util, runtime };
