// ES module resolution hook for samrun's Node.js runtime. `import 'pkg'` only looks for
// node_modules folders up the importing file's tree, never at NODE_PATH; on Lambda the
// function's packages sit in /var/task/node_modules and the AWS SDK is reachable too. samrun keeps
// built packages and the SDK in its state folder, so a bare specifier that is not found up the
// tree is resolved again from each NODE_PATH node_modules folder, in NODE_PATH's order.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

let parents = [];

export async function initialize(data) {
  // A parent file beside each node_modules folder makes node search exactly that folder.
  parents = ((data && data.paths) || [])
    .map((folder) => pathToFileURL(path.join(path.dirname(folder), '__samrun_resolve__.js')).href);
}

const isBare = (specifier) => !/^(\.|\/|[a-zA-Z][a-zA-Z\d+.-]*:)/.test(specifier);

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (!error || error.code !== 'ERR_MODULE_NOT_FOUND' || !isBare(specifier)) throw error;
    for (const parentURL of parents) {
      try {
        return await nextResolve(specifier, { ...context, parentURL });
      } catch (_) {
        // not in this folder: the next one
      }
    }
    throw error;
  }
}
