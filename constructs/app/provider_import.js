// The Node.js half of constructs/app/provider_import.py (read its docstring first).
//
// jsii runs the provider bindings' JavaScript in a Node.js process, and loading them means
// `require("@cdktf/provider-aws")`, whose lib/index.js requires all 2,135 resource modules
// (1.9 s here, on every synth). This file, preloaded with `node --require`, compiles that one
// index.js without those require lines and defines each export as a getter that requires its
// module on first use, the way the stock index.js would have required it eagerly. Nothing else
// changes: the same modules load, only fewer of them and later.
"use strict";

const Module = require("module");
const path = require("path");

const INDEX = path.join("@cdktf", "provider-aws", "lib", "index.js");
const EAGER_REQUIRE = /^exports\.(\w+) = require\("(\.\/[a-z0-9-]+)"\);$/gm;
const compile = Module.prototype._compile;

Module.prototype._compile = function lazyProviderIndex(content, filename) {
  if (!filename.endsWith(INDEX)) {
    return compile.call(this, content, filename);
  }
  const submodules = [...content.matchAll(EAGER_REQUIRE)].map((match) => [match[1], match[2]]);
  const result = compile.call(this, content.replace(EAGER_REQUIRE, ""), filename);
  const module = this;
  for (const [name, relative] of submodules) {
    Object.defineProperty(module.exports, name, {
      configurable: true,
      enumerable: true,
      get() {
        const value = module.require(relative);
        Object.defineProperty(module.exports, name, { value, configurable: true, enumerable: true, writable: true });
        return value;
      },
    });
  }
  return result;
};
