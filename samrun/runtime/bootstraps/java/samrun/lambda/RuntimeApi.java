package samrun.lambda;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The Runtime API (AWS_LAMBDA_RUNTIME_API, a bare host:port) over one kept-alive HTTP/1.1
 * connection: a plain socket rather than HttpURLConnection, whose classes a cold start would
 * load for four fixed requests.
 */
final class RuntimeApi {
    static final String BASE = "/2018-06-01/runtime";

    private final String host;
    private final int port;
    private Socket socket;
    private InputStream in;
    private OutputStream out;

    RuntimeApi(String address) {
        int colon = address.lastIndexOf(':');
        this.host = address.substring(0, colon);
        this.port = Integer.parseInt(address.substring(colon + 1));
    }

    /** One invocation, as /invocation/next gives it. */
    static final class Invocation {
        final String requestId;
        final long deadlineMs;
        final String invokedFunctionArn;
        final String traceId;
        final String clientContext;
        final String cognitoIdentity;
        final byte[] payload;

        Invocation(Map<String, String> headers, byte[] payload) {
            this.requestId = headers.get("lambda-runtime-aws-request-id");
            String deadline = headers.get("lambda-runtime-deadline-ms");
            this.deadlineMs = deadline == null ? Long.MAX_VALUE : Long.parseLong(deadline.trim());
            this.invokedFunctionArn = headers.get("lambda-runtime-invoked-function-arn");
            this.traceId = headers.get("lambda-runtime-trace-id");
            this.clientContext = headers.get("lambda-runtime-client-context");
            this.cognitoIdentity = headers.get("lambda-runtime-cognito-identity");
            this.payload = payload;
        }
    }

    Invocation next() throws IOException {
        Map<String, String> headers = new HashMap<String, String>();
        byte[] body = request("GET", BASE + "/invocation/next", null, headers);
        return new Invocation(headers, body);
    }

    void respond(String requestId, byte[] payload) throws IOException {
        request("POST", BASE + "/invocation/" + requestId + "/response", payload, null);
    }

    void fail(String requestId, byte[] error) throws IOException {
        request("POST", BASE + "/invocation/" + requestId + "/error", error, null);
    }

    void failInit(byte[] error) throws IOException {
        request("POST", BASE + "/init/error", error, null);
    }

    private byte[] request(String method, String path, byte[] body, Map<String, String> headers) throws IOException {
        for (int attempt = 0; ; attempt++) {
            boolean fresh = socket == null;
            try {
                if (fresh) {
                    connect();
                }
                return exchange(method, path, body, headers);
            } catch (IOException e) {
                close();
                if (fresh || attempt > 0) {  // a kept-alive connection the server closed: once more
                    throw e;
                }
            }
        }
    }

    private void connect() throws IOException {
        socket = new Socket();
        socket.setTcpNoDelay(true);
        socket.connect(new InetSocketAddress(host, port));
        in = new BufferedInputStream(socket.getInputStream(), 65536);
        out = socket.getOutputStream();
    }

    private void close() {
        if (socket != null) {
            try {
                socket.close();
            } catch (IOException e) {
                // gone already
            }
        }
        socket = null;
    }

    private byte[] exchange(String method, String path, byte[] body, Map<String, String> headers) throws IOException {
        StringBuilder head = new StringBuilder();
        head.append(method).append(' ').append(path).append(" HTTP/1.1\r\n");
        head.append("Host: ").append(host).append(':').append(port).append("\r\n");
        head.append("User-Agent: samrun-java-runtime\r\n");
        if (body != null) {
            head.append("Content-Type: application/json\r\n");
            head.append("Content-Length: ").append(body.length).append("\r\n");
        }
        head.append("\r\n");
        out.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
        if (body != null) {
            out.write(body);
        }
        out.flush();
        String status = line();
        if (status == null) {
            throw new IOException("the Runtime API closed the connection");
        }
        Map<String, String> received = new HashMap<String, String>();
        String header;
        while ((header = line()) != null && !header.isEmpty()) {
            int colon = header.indexOf(':');
            if (colon > 0) {
                received.put(header.substring(0, colon).trim().toLowerCase(Locale.ROOT), header.substring(colon + 1).trim());
            }
        }
        byte[] payload = readBody(received);
        if ("close".equalsIgnoreCase(received.get("connection"))) {
            close();
        }
        String[] parts = status.split(" ", 3);
        int code = parts.length > 1 ? Integer.parseInt(parts[1]) : 0;
        if (code >= 400 && code != 413) {
            throw new Unexpected(code, Json.utf8(payload));
        }
        if (headers != null) {
            headers.putAll(received);
        }
        return payload;
    }

    /** A Runtime API answer other than success: the instance cannot go on. */
    static final class Unexpected extends IOException {
        private static final long serialVersionUID = 1L;

        Unexpected(int status, String body) {
            super("Runtime API answered " + status + ": " + body);
        }
    }

    private byte[] readBody(Map<String, String> headers) throws IOException {
        String length = headers.get("content-length");
        if (length != null) {
            return exactly(Integer.parseInt(length.trim()));
        }
        if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            while (true) {
                String size = line();
                if (size == null) {
                    throw new IOException("the Runtime API closed the connection");
                }
                int semicolon = size.indexOf(';');
                int n = Integer.parseInt((semicolon >= 0 ? size.substring(0, semicolon) : size).trim(), 16);
                if (n == 0) {
                    String trailer;
                    while ((trailer = line()) != null && !trailer.isEmpty()) {
                        // trailers are not used
                    }
                    return all.toByteArray();
                }
                all.write(exactly(n));
                line();
            }
        }
        return new byte[0];
    }

    private byte[] exactly(int n) throws IOException {
        byte[] data = new byte[n];
        int read = 0;
        while (read < n) {
            int got = in.read(data, read, n - read);
            if (got < 0) {
                throw new IOException("the Runtime API closed the connection");
            }
            read += got;
        }
        return data;
    }

    private String line() throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream(128);
        int c;
        while ((c = in.read()) >= 0) {
            if (c == '\n') {
                byte[] bytes = line.toByteArray();
                int end = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
                return new String(bytes, 0, end, StandardCharsets.UTF_8);
            }
            line.write(c);
        }
        return line.size() > 0 ? new String(line.toByteArray(), StandardCharsets.UTF_8) : null;
    }
}
