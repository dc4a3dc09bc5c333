// An init script that counts every storage write a page makes (localStorage, sessionStorage,
// cookies, IndexedDB) before any page script runs; read with `page.evaluate(() => window.__writes)`.
export const storageSpy = () => {
  const writes = [];
  window.__writes = writes;
  for (const m of ['setItem', 'removeItem', 'clear']) {
    const original = Storage.prototype[m];
    Storage.prototype[m] = function (...args) {
      writes.push(`storage.${m}(${args[0] ?? ''})`);
      return original.apply(this, args);
    };
  }
  const cookie = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie');
  Object.defineProperty(Document.prototype, 'cookie', {
    get() {
      return cookie.get.call(this);
    },
    set(v) {
      writes.push(`cookie(${String(v).split('=')[0]})`);
      cookie.set.call(this, v);
    },
  });
  const open = IDBFactory.prototype.open;
  IDBFactory.prototype.open = function (...args) {
    writes.push(`indexedDB.open(${args[0]})`);
    return open.apply(this, args);
  };
};
