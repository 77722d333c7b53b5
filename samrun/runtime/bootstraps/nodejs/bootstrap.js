'use strict';
// samrun's Node.js runtime: a dependency-free Lambda Runtime API client that behaves as Lambda's
// own Node.js runtime does (handler resolution, context, callbacks, log format, error shapes).
// Runs on node 18-24. nodejs24.x follows the newer runtime: callback handlers are refused and a
// handler's result is sent as soon as it settles.

const fs = require('fs');
const http = require('http');
const path = require('path');
const util = require('util');
const { pathToFileURL } = require('url');

const API = '/2018-06-01/runtime';
const ERROR_TYPE = 'Lambda-Runtime-Function-Error-Type';
const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const MODERN = /nodejs(2[4-9]|[3-9]\d)/.test(process.env.AWS_EXECUTION_ENV || '');

// -- errors ------------------------------------------------------------------------------------

class RuntimeError extends Error {}
const runtimeError = (name) => {
  const cls = class extends RuntimeError {};
  cls.prototype.name = `Runtime.${name}`;
  return cls;
};
const ImportModuleError = runtimeError('ImportModuleError');
const HandlerNotFound = runtimeError('HandlerNotFound');
const MalformedHandlerName = runtimeError('MalformedHandlerName');
const UserCodeSyntaxError = runtimeError('UserCodeSyntaxError');
const UnhandledPromiseRejection = runtimeError('UnhandledPromiseRejection');
const CallbackHandlerDeprecated = runtimeError('CallbackHandlerDeprecated');
const NodeJsExit = runtimeError('NodeJsExit');

// Stack traces show the function's files and node's, never samrun's runtime (its frames say
// nothing to the function's author; Lambda's show /var/runtime, which samrun does not mimic).
const OWN_FILES = [__filename, path.join(__dirname, 'spare.js'),
  path.join(__dirname, 'resolve.mjs'), pathToFileURL(path.join(__dirname, 'resolve.mjs')).href];
const cleanStack = (stack) => stack.split('\n')
  .filter((line) => !OWN_FILES.some((own) => line.includes(own))).join('\n');
// In a message (a require stack), the runtime is named by the path Lambda's has.
const asLambdaPaths = (text) => OWN_FILES.reduce(
  (out, own) => out.split(own).join('/var/runtime/index.mjs'), text);

const isNativeError = typeof Error.isError === 'function' ? Error.isError : util.types.isNativeError;
const isErrorLike = (e) => isNativeError(e) || (e && typeof e.name === 'string' &&
  typeof e.message === 'string' && typeof e.stack === 'string' && e.name && e.message);

// The body posted to /error and /init/error: {errorType, errorMessage, trace}.
function toRapid(error) {
  try {
    if (isErrorLike(error)) {
      return { errorType: error.name, errorMessage: error.message,
        trace: typeof error.stack === 'string' ? cleanStack(error.stack).split('\n') : [] };
    }
    return { errorType: typeof error, errorMessage: error.toString(), trace: [] };
  } catch (_) {
    return { errorType: 'handled', errorMessage: 'callback called with Error argument, but there ' +
      'was a problem while retrieving one or more of its message, name, and stack', trace: [] };
  }
}

// The error as the runtime logs it: a tab, then JSON with name, message, code and stack lines.
function toFormatted(error) {
  const expand = (_k, v) => (v instanceof Error
    ? Object.assign({ errorType: v.name, errorMessage: v.message, code: v.code }, v,
      typeof v.stack === 'string' ? { stack: cleanStack(v.stack).split('\n') } : {})
    : v);
  try {
    return '\t' + JSON.stringify(error, expand);
  } catch (_) {
    return '\t' + JSON.stringify(toRapid(error));
  }
}

const intoError = (e) => (e instanceof Error ? e : new Error(e));

// -- logging: console.* become `${time}\t${requestId}\t${LEVEL}\t${message}` -------------------

const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');
const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];

function patchConsole() {
  const json = (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';
  const min = Math.max(0, LEVELS.indexOf((process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()));
  const write = (level, params) => {
    const timestamp = new Date().toISOString();
    const requestId = global[REQUEST_ID];
    let line;
    if (json) {
      const entry = { timestamp, level, requestId, message: util.format(...params) };
      const error = params.find((p) => p instanceof Error);
      if (params.length === 1 && !error) entry.message = params[0]; // one value stays structured
      if (error) {
        Object.assign(entry, { errorType: error.name, errorMessage: error.message,
          stackTrace: cleanStack(String(error.stack)).split('\n') });
      }
      try {
        line = JSON.stringify(entry);
      } catch (_) { // a circular value: fall back to its util.format text
        line = JSON.stringify({ ...entry, message: util.format(...params) });
      }
    } else {
      line = `${timestamp}\t${requestId}\t${level}\t${util.format(...params)}`;
    }
    process.stdout.write(line + '\n');
  };
  const method = (level) => (LEVELS.indexOf(level) >= min
    ? (message, ...params) => write(level, [message, ...params]) : () => {});
  console.trace = method('TRACE');
  console.debug = method('DEBUG');
  console.info = method('INFO');
  console.log = console.info;
  console.warn = method('WARN');
  console.error = method('ERROR');
  console.fatal = (message, ...params) => write('FATAL', [message, ...params]);
}

const logError = (what, error) => (
  (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON'
    ? console.error(intoError(error)) : console.error(what, toFormatted(intoError(error))));

// -- the Runtime API client: one keep-alive connection ------------------------------------------

const [HOST, PORT] = (process.env.AWS_LAMBDA_RUNTIME_API || '').split(':');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function httpRequest(method, urlPath, body, headers, final, retried) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: HOST, port: Number(PORT), path: API + urlPath, method, agent,
      headers: body === undefined ? headers : { 'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body), ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', (err) => (!retried && (err.code === 'ECONNRESET' || err.code === 'EPIPE')
      ? httpRequest(method, urlPath, body, headers, final, true).then(resolve, reject)
      : reject(err)));
    req.end(body);
  });
}

// A streamed response over HTTP, as Lambda's runtime sends it: chunked, on a connection of its
// own, a mid-stream error in the Lambda-Runtime-Function-Error-Type/-Body trailers.
const TRAILERS = [ERROR_TYPE, 'Lambda-Runtime-Function-Error-Body'];
function httpStream(id, contentType) {
  let answered;
  const done = new Promise((resolve) => { answered = resolve; });
  const req = http.request({ host: HOST, port: Number(PORT), method: 'POST', agent: false,
    path: `${API}/invocation/${encodeURIComponent(id)}/response`,
    headers: { 'Lambda-Runtime-Function-Response-Mode': 'streaming', 'Content-Type': contentType,
      'Transfer-Encoding': 'chunked', Trailer: TRAILERS.join(', ') } }, (res) => {
    res.resume();
    res.on('end', answered);
    res.on('error', answered);
  });
  req.on('error', answered);
  return {
    write: (data) => req.write(data),
    end(errorType, errorBody) {
      if (errorType) {
        req.addTrailers({ [TRAILERS[0]]: errorType,
          [TRAILERS[1]]: Buffer.from(errorBody).toString('base64') });
      }
      req.end();
      return done;
    },
  };
}

// -- samrun's fast lane (samrun/runtime/lane.py): the same calls over one inherited socketpair -----
// A frame: kind, flags, field count (1 byte each), the fields' lengths (4 bytes each), the fields.

const LANE_FD = process.env._SAMRUN_RUNTIME_LANE; // gone before any of the function's code loads
delete process.env._SAMRUN_RUNTIME_LANE;
const LANE_PIECE = 1024 * 1024;
const EVENT_HEADERS = ['lambda-runtime-aws-request-id', 'lambda-runtime-deadline-ms',
  'lambda-runtime-invoked-function-arn', 'lambda-runtime-trace-id',
  'lambda-runtime-client-context', 'lambda-runtime-cognito-identity',
  'lambda-runtime-aws-tenant-id'];

function frame(kind, flags, fields) {
  const buffers = fields.map((field) => (Buffer.isBuffer(field) ? field : Buffer.from(field)));
  const head = Buffer.alloc(3 + 4 * buffers.length);
  head.write(kind, 0, 'latin1');
  head[1] = flags;
  head[2] = buffers.length;
  buffers.forEach((field, i) => head.writeUInt32BE(field.length, 3 + 4 * i));
  return Buffer.concat([head, ...buffers]);
}

function laneClient(fd) {
  const socket = new (require('net').Socket)({ fd, readable: true, writable: true });
  const NEXT = frame('N', 0, []);
  const events = []; // events that came before the loop asked (the next was sent with an answer)
  const waiters = { V: [], A: [] };
  let nextSent = false;
  let pending = [];
  let size = 0;
  let needed = 3;
  // Referenced only while an answer is awaited: between invocations, and while the handler
  // runs, the lane keeps nothing alive (beforeExit still says "the event loop is empty").
  const settle = () => (waiters.V.length || waiters.A.length ? socket.ref() : socket.unref());
  const wait = (kind) => new Promise((resolve, reject) => {
    waiters[kind].push({ resolve, reject });
    settle();
  });
  const dispatch = (kind, fields) => {
    if (kind === 'A' && waiters.A.length) waiters.A.shift().resolve({ kind, fields });
    else if (waiters.V.length) waiters.V.shift().resolve({ kind, fields }); // V, or A: refused
    else if (kind === 'V') events.push(fields);
    settle();
  };
  socket.on('data', (chunk) => {
    pending.push(chunk);
    size += chunk.length;
    while (size >= needed) {
      const buf = pending.length === 1 ? pending[0] : Buffer.concat(pending, size);
      pending = [buf];
      const count = buf[2];
      const head = 3 + 4 * count;
      needed = head;
      if (size < head) break;
      let total = head;
      for (let i = 0; i < count; i++) total += buf.readUInt32BE(3 + 4 * i);
      needed = total;
      if (size < total) break;
      const fields = [];
      for (let i = 0, at = head; i < count; i++) {
        const length = buf.readUInt32BE(3 + 4 * i);
        fields.push(buf.subarray(at, at + length));
        at += length;
      }
      const rest = buf.subarray(total);
      pending = rest.length ? [rest] : [];
      size = rest.length;
      needed = 3;
      dispatch(String.fromCharCode(buf[0]), fields);
    }
  });
  const fail = (err) => {
    const error = err || new Error('samrun closed the lane');
    for (const waiter of [...waiters.V.splice(0), ...waiters.A.splice(0)]) waiter.reject(error);
    settle();
  };
  socket.on('error', fail);
  socket.on('close', () => fail());
  socket.unref();

  const asEvent = ({ kind, fields }) => {
    if (kind !== 'V') throw new Error(`samrun refused the next invocation: ${fields[1]}`);
    const headers = {};
    EVENT_HEADERS.forEach((name, i) => { if (fields[i].length) headers[name] = fields[i].toString(); });
    return { headers, body: fields[fields.length - 1] };
  };
  // A streamed response: S (request id, content type), C (a piece, at most 1 MiB), T (its end:
  // the error type and body of a mid-stream error, or empty), sent with the next `next`.
  const stream = (id, contentType) => {
    socket.write(frame('S', 0, [id, contentType]));
    return {
      write(data) {
        for (let at = 0; at < data.length; at += LANE_PIECE) {
          socket.write(frame('C', 0, [data.subarray(at, at + LANE_PIECE)]));
        }
      },
      end(errorType, errorBody) {
        const message = frame('T', 0, [errorType || '', errorBody || '']);
        socket.write(nextSent ? message : Buffer.concat([message, NEXT]));
        nextSent = true;
        return Promise.resolve();
      },
    };
  };
  const call = (method, urlPath, body, headers, final) => {
    if (method === 'GET') { // the next invocation
      if (!nextSent) socket.write(NEXT);
      nextSent = false;
      return events.length ? Promise.resolve(asEvent({ kind: 'V', fields: events.shift() }))
        : wait('V').then(asEvent);
    }
    const parts = urlPath.split('/'); // /invocation/ID/response, /invocation/ID/error, /init/error
    const errorType = (headers && headers[ERROR_TYPE]) || '';
    const message = parts[1] === 'init' ? frame('I', final ? 1 : 0, [errorType, body])
      : parts[3] === 'response' ? frame('R', final ? 1 : 0, [decodeURIComponent(parts[2]), body])
        : frame('E', final ? 1 : 0, [decodeURIComponent(parts[2]), errorType, body]);
    if (final) { // the runtime exits next: wait until samrun has it
      socket.write(message);
      return wait('A').then(() => ({ headers: {}, body: Buffer.alloc(0) }));
    }
    // The answer and the next `next` in one write, as the Python runtime does.
    socket.write(nextSent ? message : Buffer.concat([message, NEXT]));
    nextSent = true;
    return Promise.resolve({ headers: {}, body: Buffer.alloc(0) });
  };
  return Object.assign(call, { stream });
}

// Started some other way (not by samrun's process backend), the number may name another file or
// none: then HTTP, which samrun serves for every instance.
const isSocket = (fd) => {
  try {
    return fs.fstatSync(fd).isSocket();
  } catch (_) {
    return false;
  }
};
const request = /^\d+$/.test(LANE_FD || '') && isSocket(Number(LANE_FD))
  ? laneClient(Number(LANE_FD)) : httpRequest;

const serialize = (value) => JSON.stringify(value === undefined ? null : value);
const postError = (where, error, final) => {
  const body = toRapid(error);
  const header = String(body.errorType).replace(/[^\x20-\x7e]/g, ''); // a header must be ASCII
  return request('POST', where, JSON.stringify(body), { [ERROR_TYPE]: header }, final);
};
const postResponse = (id, body, headers) => request(
  'POST', `/invocation/${encodeURIComponent(id)}/response`, body, headers);
const postInvokeError = (id, error, final) => postError(
  `/invocation/${encodeURIComponent(id)}/error`, error, final);

// -- loading the handler: "dir/module.nested.fn" under LAMBDA_TASK_ROOT ---------------------------

// stat, not fs.existsSync: existsSync is access(2), which judges by the real uid and ignores the
// read-search capability an unprivileged instance keeps to read code in root-only folders.
const exists = (file) => fs.statSync(file, { throwIfNoEntry: false }) !== undefined;

function typeModule(folder) {
  // The nearest package.json decides whether .js is ESM; node_modules and / end the search.
  for (let dir = folder; !dir.endsWith('/node_modules'); dir = path.dirname(dir)) {
    const pj = path.join(dir, 'package.json');
    if (exists(pj)) {
      try {
        return JSON.parse(fs.readFileSync(pj, 'utf8')).type === 'module';
      } catch (e) {
        console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, e);
        return false;
      }
    }
    if (dir === path.dirname(dir)) return false;
  }
  return false;
}

// ES modules find packages on NODE_PATH (built dependencies, layers, the AWS SDK) through a
// resolution hook, registered only when the handler is an ES module (it costs a worker thread).
let hooked = false;
function resolveFromNodePath() {
  const mod = require('module');
  const paths = (process.env.NODE_PATH || '').split(':').filter((p) => p.endsWith('node_modules'));
  if (hooked || typeof mod.register !== 'function' || !paths.length) return;
  hooked = true;
  mod.register(pathToFileURL(path.join(__dirname, 'resolve.mjs')).href, { data: { paths } });
}

async function loadModule(appRoot, moduleRoot, name) {
  const base = path.resolve(appRoot, moduleRoot, name);
  const tryRequire = (ext) => (exists(base + ext) ? require(base + ext) : undefined);
  const tryImport = async (ext) => {
    if (!exists(base + ext)) return undefined;
    resolveFromNodePath();
    return import(pathToFileURL(base + ext).href);
  };
  const esm = typeModule(path.dirname(base));
  const loaded = tryRequire('') || (!esm && tryRequire('.js')) || (esm && await tryImport('.js')) ||
    await tryImport('.mjs') || tryRequire('.cjs');
  if (loaded) return loaded;
  // Last, node's own resolution (a package name, or a folder with an index).
  return require(require.resolve(name, { paths: [appRoot, path.join(appRoot, moduleRoot)] }));
}

async function loadHandler(appRoot, fullHandler) {
  if (fullHandler.includes('..')) {
    throw new MalformedHandlerName(`'${fullHandler}' is not a valid handler name. Use absolute ` +
      'paths when specifying root directories in handler names.');
  }
  const handlerString = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.indexOf(handlerString));
  const match = handlerString.match(/^([^.]*)\.(.*)$/);
  if (!match) throw new MalformedHandlerName('Bad handler');
  let userModule;
  try {
    userModule = await loadModule(appRoot, moduleRoot, match[1]);
  } catch (e) {
    if (e instanceof SyntaxError) throw new UserCodeSyntaxError(String(e));
    if (e && (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_MODULE_NOT_FOUND')) {
      throw new ImportModuleError(asLambdaPaths(String(e)));
    }
    throw e;
  }
  const find = (root) => match[2].split('.').reduce((obj, key) => obj && obj[key], root);
  const handler = find(userModule) || (userModule && find(userModule.default));
  if (!handler) throw new HandlerNotFound(`${fullHandler} is undefined or not exported`);
  if (typeof handler !== 'function') throw new HandlerNotFound(`${fullHandler} is not a function`);
  return handler;
}

globalThis.awslambda = {
  // Response streaming: the handler gets (event, responseStream, context); what it writes goes
  // out as it writes it (streamOnce).
  streamifyResponse: (handler) => Object.assign(handler, { [STREAMING]: 'response' }),
  HttpResponseStream: {
    // A function URL's status and headers: a JSON prelude and 8 NUL bytes before the body.
    from(stream, prelude) {
      stream.setContentType('application/vnd.awslambda.http-integration-response');
      const metadata = JSON.stringify(prelude);
      stream._onBeforeFirstWrite = (write) => {
        write(metadata);
        write(new Uint8Array(8));
      };
      return stream;
    },
  },
};

// -- the invoke loop ----------------------------------------------------------------------------

let beforeExit = () => {};
let onFatal = (error, code) => postError('/init/error', error, true)
  .finally(() => process.exit(code));

const parseJson = (text, name) => {
  try {
    return text === undefined ? undefined : JSON.parse(text);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
};

function buildContext(headers, id, scheduleNext) {
  let waitForEmptyEventLoop = true;
  let finished = false;
  const once = (fn) => (...args) => { if (!finished) { finished = true; fn(...args); } };
  const fail = (err) => { logError('Invoke Error', err); postInvokeError(id, err).then(scheduleNext); };
  const complete = (result) => {
    let body;
    try {
      body = serialize(result);
    } catch (_) { // a cycle or a BigInt: reported as the function's error
      return fail(new Error('Unable to stringify response body'));
    }
    return postResponse(id, body).then(scheduleNext);
  };
  const done = (err, result) => {
    beforeExit = () => {};
    if (err !== undefined && err !== null) fail(err); else complete(result);
  };
  const callback = once((err, result) => {
    beforeExit = () => {};
    if (err !== undefined && err !== null) fail(err);
    else if (!waitForEmptyEventLoop) complete(result);
    else beforeExit = () => setImmediate(() => { beforeExit = () => {}; complete(result); });
  });
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  const env = process.env;
  const context = {
    get callbackWaitsForEmptyEventLoop() { return waitForEmptyEventLoop; },
    set callbackWaitsForEmptyEventLoop(value) { waitForEmptyEventLoop = value; },
    succeed: once((result) => done(null, result)),
    fail: once((err) => done(err === undefined || err === null ? 'handled' : err, null)),
    done: once(done),
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    awsRequestId: id,
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
  return { context, callback, markDone: () => { finished = true; } };
}

async function handleOnce(handler) {
  const next = await request('GET', '/invocation/next');
  const headers = next.headers;
  const id = headers['lambda-runtime-aws-request-id'];
  global[REQUEST_ID] = id;
  const trace = headers['lambda-runtime-trace-id'];
  if (trace) process.env._X_AMZN_TRACE_ID = trace;
  else delete process.env._X_AMZN_TRACE_ID;
  const scheduleNext = () => setImmediate(() => loop(handler));
  onFatal = (error, code) => postInvokeError(id, error, true).finally(() => process.exit(code));
  const { context, callback, markDone } = buildContext(headers, id, scheduleNext);
  const isAsync = handler.constructor && handler.constructor.name === 'AsyncFunction';
  // Nothing left to run and no answer: a sync handler answers null, an async one never settled.
  beforeExit = () => {
    beforeExit = () => {};
    markDone();
    if (!isAsync && !MODERN) {
      postResponse(id, 'null').then(scheduleNext);
      return;
    }
    const error = new NodeJsExit('Lambda runtime client detected an unexpected Node.js exit code. ' +
      'This is most commonly caused by a Promise that was never settled. For more information, ' +
      'see https://nodejs.org/docs/latest/api/process.html#exit-codes');
    logError('Invoke Error', error);
    postInvokeError(id, error).then(scheduleNext);
  };
  try {
    context.clientContext = parseJson(headers['lambda-runtime-client-context'], 'ClientContext');
    context.identity = parseJson(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity');
    context.tenantId = headers['lambda-runtime-aws-tenant-id']; // TenancyConfig PER_TENANT
    const event = next.body.length ? JSON.parse(next.body.toString('utf8')) : {};
    if (handler[STREAMING]) {
      await streamOnce(handler, event, context, id, scheduleNext);
    } else if (MODERN) {
      context.done(null, await handler(event, context)); // answered as soon as it settles
    } else {
      const result = handler(event, context, callback);
      if (result && typeof result.then === 'function') {
        result.then(context.succeed, context.fail).catch(context.fail);
      }
    }
  } catch (err) {
    callback(err);
  }
}

// The handler's response stream: a Writable whose pieces go to samrun as they are written; the
// response begins with the first write (until then setContentType may change its type).
function responseStream(id) {
  const { Writable } = require('stream');
  let contentType = 'application/octet-stream';
  let sink = null;
  const open = () => {
    if (!sink) sink = (request.stream || httpStream)(id, contentType);
    return sink;
  };
  const stream = new Writable({
    write(chunk, encoding, callback) {
      open().write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, encoding));
      callback();
    },
  });
  let written = false;
  const beforeFirst = () => {
    if (written) return;
    written = true;
    const hook = stream._onBeforeFirstWrite;
    if (typeof hook === 'function') hook((data) => origWrite(data));
  };
  const origWrite = stream.write.bind(stream);
  stream.write = (chunk, encoding, callback) => {
    beforeFirst();
    const data = typeof chunk === 'string' || chunk instanceof Uint8Array ? chunk
      : JSON.stringify(chunk);
    return origWrite(data, encoding, callback);
  };
  const origEnd = stream.end.bind(stream);
  stream.end = (chunk, encoding, callback) => {
    if (typeof chunk === 'function') return origEnd(chunk);
    if (chunk !== undefined && chunk !== null) stream.write(chunk, encoding);
    beforeFirst(); // a prelude with no body still says the status and headers
    return origEnd(typeof encoding === 'function' ? encoding : callback);
  };
  stream.setContentType = (type) => {
    if (written) throw new Error('Cannot set content-type, too late.');
    contentType = type;
  };
  return { stream, finish: (errorType, errorBody) => open().end(errorType, errorBody) };
}

async function streamOnce(handler, event, context, id, scheduleNext) {
  beforeExit = () => {};
  const { stream, finish } = responseStream(id);
  const finished = new Promise((resolve, reject) => {
    stream.on('finish', resolve);
    stream.on('error', reject);
  });
  let failure;
  try {
    const result = handler(event, stream, context);
    if (!result || typeof result.then !== 'function') {
      throw new Error('Streaming does not support non-async handlers.');
    }
    if (await result !== undefined) console.warn('Streaming handlers ignore return values.');
    await finished; // as Lambda's runtime: the invocation ends when the stream does
  } catch (err) {
    failure = err === undefined || err === null ? new Error(String(err)) : err;
  }
  if (failure === undefined) {
    await finish();
  } else { // a mid-stream error: reported at the stream's end, as Lambda's runtime does
    logError('Invoke Error', failure);
    const body = toRapid(failure);
    await finish(String(body.errorType).replace(/[^\x20-\x7e]/g, ''), JSON.stringify(body));
  }
  scheduleNext();
}

function loop(handler) {
  handleOnce(handler).catch((err) => {
    console.log(`Unexpected Top Level Error: ${err.toString()}`);
    onFatal(err, 129);
  });
}

// Started under the inspector (`samrun --debug`, samrun/runtime/debug_node.py) that could not
// listen (its port is taken): node runs on without it, even with --inspect-brk. An init error
// says so instead of a function that runs past every breakpoint.
const InspectorUnavailable = runtimeError('InspectorUnavailable');
function checkInspector() {
  const flag = process.execArgv.find((arg) => /^--inspect(-brk|-wait)?(=|$)/.test(arg));
  if (flag && !require('inspector').url()) {
    const address = flag.includes('=') ? flag.split('=')[1] : '127.0.0.1:9229';
    throw new InspectorUnavailable(`the Node.js inspector could not listen on ${address}: ` +
      'is another program listening there? (give --debug another port)');
  }
}

async function main() {
  patchConsole();
  process.on('uncaughtException', (error) => {
    logError('Uncaught Exception', error);
    onFatal(error, 129);
  });
  process.on('unhandledRejection', (reason, promise) => {
    const error = new UnhandledPromiseRejection(String(reason));
    Object.assign(error, { reason, promise });
    logError('Unhandled Promise Rejection', error);
    onFatal(error, 128);
  });
  process.on('beforeExit', () => beforeExit());
  checkInspector();
  const appRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  const handler = await loadHandler(appRoot, process.env._HANDLER || '');
  if (MODERN && handler.length >= 3 && !handler[STREAMING]) {
    throw new CallbackHandlerDeprecated('ERROR: AWS Lambda has removed support for callback-based ' +
      'function handlers starting with Node.js 24. You need to modify this function to use a ' +
      'supported handler signature to use Node.js 24 or later. For more information see ' +
      'https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.');
  }
  setImmediate(() => loop(handler));
}

main().catch((error) => {
  logError('Uncaught Exception', error);
  onFatal(error, 129);
});
