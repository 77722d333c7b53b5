"""Node.js functions get the AWS SDK for JavaScript v3 as Lambda's runtimes include it: found by
`require` and by `import` with no package.json, and talking to the local AWS endpoint; a client
beyond the most used ones is installed too when the sources name it."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import invoke_http, start_up

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: nodejs20.x
    Timeout: 20
    CodeUri: src/
Resources:
  Required:
    Type: AWS::Serverless::Function
    Properties:
      Handler: required.handler
  Imported:
    Type: AWS::Serverless::Function
    Properties:
      Handler: imported.handler
  Logs:
    Type: AWS::Serverless::Function
    Properties:
      Handler: logs.handler
  Table:
    Type: AWS::Serverless::SimpleTable
    Properties:
      TableName: things
"""
REQUIRED = """\
const { DynamoDBClient, ListTablesCommand } = require('@aws-sdk/client-dynamodb');
exports.handler = async () => {
  const listed = await new DynamoDBClient({}).send(new ListTablesCommand({}));
  return { via: 'require', tables: listed.TableNames };
};
"""
IMPORTED = """\
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
export const handler = async () => {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  const listed = await client.send(new ListTablesCommand({}));
  return { via: 'import', tables: listed.TableNames };
};
"""
LOGS = """\
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
export const handler = async () => ({ client: new CloudWatchLogsClient({}).constructor.name });
"""


def test_a_function_uses_the_sdk_without_declaring_it(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    (tmp_path / "src" / "required.js").write_text(REQUIRED)
    (tmp_path / "src" / "imported.mjs").write_text(IMPORTED)
    (tmp_path / "src" / "logs.mjs").write_text(LOGS)
    server = start_up(tmp_path / "template.yaml", tmp_path / ".samrun")
    try:
        assert any("AWS SDK for JavaScript v3" in line for line in server.lines)
        for name, via in (("Required", "require"), ("Imported", "import")):
            status, headers, body = invoke_http(server.lambda_endpoint, name)
            assert status == 200 and "X-Amz-Function-Error" not in headers, body
            assert body == {"via": via, "tables": ["things"]}
        assert invoke_http(server.lambda_endpoint, "Logs")[2] == {"client": "CloudWatchLogsClient"}
    finally:
        server.stop()
    names = sorted(p.name for p in (tmp_path / "src").iterdir())
    assert names == ["imported.mjs", "logs.mjs", "required.js"]
