import * as esbuild from 'esbuild';
const pkg = process.argv[2];
const r = await esbuild.build({ entryPoints: [`packages/${pkg}/src/index.ts`], bundle: true, platform: 'node', format: 'esm', write: false, conditions: ['@lora/source'], logLevel: 'silent', metafile: true, packages: 'external' ,
 plugins:[{name:'ws',setup(b){ b.onResolve({filter:/^@lora\//},a=>({path: a.path, external:true})); }}]});
const ins = r.metafile.inputs;
const direct = {};
for (const [f, v] of Object.entries(ins)) direct[f] = v.imports.filter(i => i.path.startsWith('node:') || /^(fs|path|os|stream|crypto|buffer)$/.test(i.path)).map(i => i.path + (i.kind==='dynamic-import'?'(dyn)':''));
const memo = {};
function taint(f, seen=new Set()) { if (memo[f]) return memo[f]; if (seen.has(f)) return []; seen.add(f);
  let t = direct[f].map(x=>f.replace('packages/','')+':'+x);
  for (const i of ins[f].imports) if (ins[i.path]) t = t.concat(taint(i.path, seen));
  return memo[f] = [...new Set(t)]; }
const idx = `packages/${pkg}/src/index.ts`;
for (const i of ins[idx].imports) if (ins[i.path]) { const t = taint(i.path); if (t.length) console.log(i.path.replace(`packages/${pkg}/src/`,''), '<=', t.filter(x=>!x.includes('(dyn)')).slice(0,3).join(' '), t.some(x=>x.includes('(dyn)'))?'[dyn: '+t.filter(x=>x.includes('(dyn)')).join(' ')+']':''); }
console.log('--- ext @lora imports:', [...new Set(Object.values(ins).flatMap(v=>v.imports.filter(i=>i.path.startsWith('@lora/')).map(i=>i.path)))].join(' '));
