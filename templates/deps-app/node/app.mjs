// Parses a duration with the `ms` package from package.json (an ES module import), and names the
// AWS SDK for JavaScript v3 that Lambda's runtime provides without the app declaring it.
import ms from 'ms';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export const handler = async (event) => {
  const text = (event.pathParameters || {}).duration || event.duration || '1m';
  const client = new DynamoDBClient({});
  return {
    statusCode: 200,
    body: JSON.stringify({ duration: text, ms: ms(text), sdk: client.constructor.name }),
  };
};
