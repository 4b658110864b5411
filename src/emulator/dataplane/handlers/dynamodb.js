// `@aws-appsync/utils/dynamodb` in the emulator: the helpers build the request objects that
// AppSync would send to a DynamoDB data source. The emulator has no data sources, so these
// requests are never sent: `response` runs with `ctx.result = null`.
const request = (operation) => (input) => Object.assign({ operation }, input);

export const get = request('GetItem');
export const put = request('PutItem');
export const remove = request('DeleteItem');
export const update = request('UpdateItem');
export const query = request('Query');
export const scan = request('Scan');
export const sync = request('Sync');
export const batchGet = request('BatchGetItem');
export const batchPut = request('BatchPutItem');
export const batchDelete = request('BatchDeleteItem');
export const transactGet = request('TransactGetItems');
export const transactWrite = request('TransactWriteItems');
export const operations = {
  increment: (by) => ({ type: 'increment', by }),
  decrement: (by) => ({ type: 'decrement', by }),
  append: (items) => ({ type: 'append', items }),
  prepend: (items) => ({ type: 'prepend', items }),
  add: (value) => ({ type: 'add', value }),
  remove: () => ({ type: 'remove' }),
  replace: (value) => ({ type: 'replace', value }),
  updateListItem: (value, index) => ({ type: 'updateListItem', value, index }),
};
