package samrun.lambda;

import com.amazonaws.services.lambda.runtime.Client;
import com.amazonaws.services.lambda.runtime.ClientContext;
import com.amazonaws.services.lambda.runtime.CognitoIdentity;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaLogger;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** One invocation's Context, from the Runtime API's headers and Lambda's variables. */
final class LambdaContext implements Context {
    private static final int MEMORY = parse(System.getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), 128);

    private final RuntimeApi.Invocation invocation;
    private final LambdaLogger logger;
    private final CognitoIdentity identity;
    private final ClientContext clientContext;

    LambdaContext(RuntimeApi.Invocation invocation, LambdaLogger logger) {
        this.invocation = invocation;
        this.logger = logger;
        this.identity = identity(invocation.cognitoIdentity);
        this.clientContext = clientContext(invocation.clientContext);
    }

    private static int parse(String text, int fallback) {
        try {
            return Integer.parseInt(text.trim());
        } catch (Exception e) {
            return fallback;
        }
    }

    public String getAwsRequestId() {
        return invocation.requestId;
    }

    public String getLogGroupName() {
        return System.getenv("AWS_LAMBDA_LOG_GROUP_NAME");
    }

    public String getLogStreamName() {
        return System.getenv("AWS_LAMBDA_LOG_STREAM_NAME");
    }

    public String getFunctionName() {
        return System.getenv("AWS_LAMBDA_FUNCTION_NAME");
    }

    public String getFunctionVersion() {
        return System.getenv("AWS_LAMBDA_FUNCTION_VERSION");
    }

    public String getInvokedFunctionArn() {
        return invocation.invokedFunctionArn;
    }

    public CognitoIdentity getIdentity() {
        return identity;
    }

    public ClientContext getClientContext() {
        return clientContext;
    }

    public int getRemainingTimeInMillis() {
        long left = invocation.deadlineMs - System.currentTimeMillis();
        return (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, left));
    }

    public int getMemoryLimitInMB() {
        return MEMORY;
    }

    public LambdaLogger getLogger() {
        return logger;
    }

    public String getXrayTraceId() {
        return invocation.traceId;
    }

    public String getTenantId() {
        return null;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> object(String json) {
        if (json == null || json.trim().isEmpty()) {
            return null;
        }
        try {
            Object parsed = Json.parse(json);
            return parsed instanceof Map ? (Map<String, Object>) parsed : null;
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static String text(Map<String, Object> map, String key) {
        Object value = map == null ? null : map.get(key);
        return value == null ? null : value.toString();
    }

    private static CognitoIdentity identity(String json) {
        final Map<String, Object> map = object(json);
        if (map == null) {
            return null;
        }
        return new CognitoIdentity() {
            public String getIdentityId() {
                return text(map, "cognitoIdentityId");
            }

            public String getIdentityPoolId() {
                return text(map, "cognitoIdentityPoolId");
            }
        };
    }

    @SuppressWarnings("unchecked")
    private static Map<String, String> strings(Object value) {
        if (!(value instanceof Map)) {
            return null;
        }
        Map<String, String> out = new LinkedHashMap<String, String>();
        for (Map.Entry<String, Object> entry : ((Map<String, Object>) value).entrySet()) {
            out.put(entry.getKey(), entry.getValue() == null ? null : entry.getValue().toString());
        }
        return Collections.unmodifiableMap(out);
    }

    @SuppressWarnings("unchecked")
    private static ClientContext clientContext(String json) {
        final Map<String, Object> map = object(json);
        if (map == null) {
            return null;
        }
        final Map<String, Object> client = map.get("client") instanceof Map ? (Map<String, Object>) map.get("client") : null;
        final Client app = client == null ? null : new Client() {
            public String getInstallationId() {
                return text(client, "installation_id");
            }

            public String getAppTitle() {
                return text(client, "app_title");
            }

            public String getAppVersionName() {
                return text(client, "app_version_name");
            }

            public String getAppVersionCode() {
                return text(client, "app_version_code");
            }

            public String getAppPackageName() {
                return text(client, "app_package_name");
            }
        };
        final Map<String, String> custom = strings(map.get("custom"));
        final Map<String, String> env = strings(map.get("env"));
        return new ClientContext() {
            public Client getClient() {
                return app;
            }

            public Map<String, String> getCustom() {
                return custom;
            }

            public Map<String, String> getEnvironment() {
                return env;
            }
        };
    }
}
