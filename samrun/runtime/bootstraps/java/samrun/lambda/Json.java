package samrun.lambda;

import java.io.ByteArrayOutputStream;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * JSON text to a tree (LinkedHashMap, ArrayList, String, Integer/Long/BigInteger, Double,
 * Boolean, null) and back. Reading is as lenient as Lambda's Jackson configuration (single
 * quotes, unquoted names, NaN, leading zeros); a function's own JSON library is not assumed.
 */
final class Json {
    private Json() {
    }

    /** A document that does not parse. */
    static final class ParseException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        ParseException(String message) {
            super(message);
        }
    }

    static Object parse(String text) {
        Reader reader = new Reader(text);
        reader.space();
        if (reader.at >= text.length()) {
            throw new ParseException("No content to map due to end-of-input");
        }
        Object value = reader.value();
        reader.space();
        if (reader.at < text.length()) {
            throw reader.error("Unexpected character ('" + text.charAt(reader.at) + "')");
        }
        return value;
    }

    private static final class Reader {
        final String text;
        int at;

        Reader(String text) {
            this.text = text;
        }

        ParseException error(String message) {
            int line = 1;
            int column = 1;
            for (int i = 0; i < at && i < text.length(); i++) {
                if (text.charAt(i) == '\n') {
                    line++;
                    column = 1;
                } else {
                    column++;
                }
            }
            return new ParseException(message + " at [line: " + line + ", column: " + column + "]");
        }

        void space() {
            while (at < text.length() && text.charAt(at) <= ' ') {
                at++;
            }
        }

        Object value() {
            space();
            if (at >= text.length()) {
                throw error("Unexpected end-of-input");
            }
            char c = text.charAt(at);
            switch (c) {
                case '{':
                    return object();
                case '[':
                    return array();
                case '"':
                case '\'':
                    return string(c);
                default:
                    if (c == '-' || c == '+' || (c >= '0' && c <= '9')) {
                        return number();
                    }
                    return word();
            }
        }

        Map<String, Object> object() {
            at++;
            Map<String, Object> map = new LinkedHashMap<String, Object>();
            space();
            if (at < text.length() && text.charAt(at) == '}') {
                at++;
                return map;
            }
            while (true) {
                space();
                if (at >= text.length()) {
                    throw error("Unexpected end-of-input: expected close marker for Object");
                }
                char c = text.charAt(at);
                String name;
                if (c == '"' || c == '\'') {
                    name = string(c);
                } else {
                    int start = at;
                    while (at < text.length() && (Character.isJavaIdentifierPart(text.charAt(at)))) {
                        at++;
                    }
                    if (start == at) {
                        throw error("Unexpected character ('" + c + "'): was expecting double-quote to start field name");
                    }
                    name = text.substring(start, at);
                }
                space();
                if (at >= text.length() || text.charAt(at) != ':') {
                    throw error("Unexpected character: was expecting a colon to separate field name and value");
                }
                at++;
                map.put(name, value());
                space();
                if (at >= text.length()) {
                    throw error("Unexpected end-of-input: expected close marker for Object");
                }
                c = text.charAt(at++);
                if (c == '}') {
                    return map;
                }
                if (c != ',') {
                    at--;
                    throw error("Unexpected character ('" + c + "'): was expecting comma to separate Object entries");
                }
            }
        }

        List<Object> array() {
            at++;
            List<Object> list = new ArrayList<Object>();
            space();
            if (at < text.length() && text.charAt(at) == ']') {
                at++;
                return list;
            }
            while (true) {
                list.add(value());
                space();
                if (at >= text.length()) {
                    throw error("Unexpected end-of-input: expected close marker for Array");
                }
                char c = text.charAt(at++);
                if (c == ']') {
                    return list;
                }
                if (c != ',') {
                    at--;
                    throw error("Unexpected character ('" + c + "'): was expecting comma to separate Array entries");
                }
            }
        }

        String string(char quote) {
            at++;
            StringBuilder out = new StringBuilder();
            while (true) {
                if (at >= text.length()) {
                    throw error("Unexpected end-of-input: was expecting closing quote for a string value");
                }
                char c = text.charAt(at++);
                if (c == quote) {
                    return out.toString();
                }
                if (c != '\\') {
                    out.append(c);
                    continue;
                }
                if (at >= text.length()) {
                    throw error("Unexpected end-of-input in character escape sequence");
                }
                char e = text.charAt(at++);
                switch (e) {
                    case 'n':
                        out.append('\n');
                        break;
                    case 't':
                        out.append('\t');
                        break;
                    case 'r':
                        out.append('\r');
                        break;
                    case 'b':
                        out.append('\b');
                        break;
                    case 'f':
                        out.append('\f');
                        break;
                    case 'u':
                        if (at + 4 > text.length()) {
                            throw error("Unexpected end-of-input in character escape sequence");
                        }
                        try {
                            out.append((char) Integer.parseInt(text.substring(at, at + 4), 16));
                        } catch (NumberFormatException ex) {
                            throw error("Unexpected character in unicode escape");
                        }
                        at += 4;
                        break;
                    default:
                        out.append(e);
                }
            }
        }

        Object number() {
            int start = at;
            if (text.charAt(at) == '-' || text.charAt(at) == '+') {
                at++;
            }
            if (text.startsWith("NaN", at) || text.startsWith("Infinity", at)) {
                return word(start);
            }
            boolean floating = false;
            while (at < text.length()) {
                char c = text.charAt(at);
                if (c >= '0' && c <= '9') {
                    at++;
                } else if (c == '.' || c == 'e' || c == 'E' || ((c == '-' || c == '+') && floating)) {
                    floating = true;
                    at++;
                } else {
                    break;
                }
            }
            String digits = text.substring(text.charAt(start) == '+' ? start + 1 : start, at);
            try {
                if (floating) {
                    return Double.valueOf(digits);
                }
                BigInteger big = new BigInteger(digits);
                if (big.bitLength() < 32) {
                    return Integer.valueOf(big.intValue());
                }
                if (big.bitLength() < 64) {
                    return Long.valueOf(big.longValue());
                }
                return big;
            } catch (NumberFormatException ex) {
                at = start;
                throw error("Invalid numeric value: '" + digits + "'");
            }
        }

        Object word() {
            return word(at);
        }

        Object word(int start) {
            at = start;
            String[] words = {"true", "false", "null", "NaN", "Infinity", "-Infinity", "+Infinity", "-NaN"};
            for (String w : words) {
                if (text.startsWith(w, at)) {
                    int end = at + w.length();
                    if (end < text.length() && Character.isJavaIdentifierPart(text.charAt(end))) {
                        continue;
                    }
                    at = end;
                    if (w.equals("true")) {
                        return Boolean.TRUE;
                    }
                    if (w.equals("false")) {
                        return Boolean.FALSE;
                    }
                    if (w.equals("null")) {
                        return null;
                    }
                    if (w.endsWith("NaN")) {
                        return Double.valueOf(Double.NaN);
                    }
                    return Double.valueOf(w.startsWith("-") ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY);
                }
            }
            int end = at;
            while (end < text.length() && Character.isJavaIdentifierPart(text.charAt(end))) {
                end++;
            }
            String token = end > at ? text.substring(at, end) : String.valueOf(text.charAt(at));
            throw error("Unrecognized token '" + token
                    + "': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')");
        }
    }

    /** The tree (see the class comment) as JSON text in UTF-8. */
    static byte[] write(Object tree) {
        StringBuilder out = new StringBuilder();
        write(tree, out);
        return out.toString().getBytes(StandardCharsets.UTF_8);
    }

    static void write(Object value, StringBuilder out) {
        if (value == null) {
            out.append("null");
        } else if (value instanceof String) {
            quote((String) value, out);
        } else if (value instanceof Boolean) {
            out.append(value.toString());
        } else if (value instanceof Double || value instanceof Float) {
            double d = ((Number) value).doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) {
                quote(value.toString(), out);
            } else {
                out.append(value.toString());
            }
        } else if (value instanceof Number) {
            out.append(value instanceof BigDecimal ? value.toString() : value.toString());
        } else if (value instanceof Raw) {
            out.append(((Raw) value).text);
        } else if (value instanceof Map) {
            out.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                quote(String.valueOf(entry.getKey()), out);
                out.append(':');
                write(entry.getValue(), out);
            }
            out.append('}');
        } else if (value instanceof List) {
            out.append('[');
            Iterator<?> items = ((List<?>) value).iterator();
            while (items.hasNext()) {
                write(items.next(), out);
                if (items.hasNext()) {
                    out.append(',');
                }
            }
            out.append(']');
        } else {
            quote(value.toString(), out);
        }
    }

    /** A number written as is (Instant's `seconds.nanos`, as Jackson writes it). */
    static final class Raw {
        final String text;

        Raw(String text) {
            this.text = text;
        }
    }

    static void quote(String text, StringBuilder out) {
        out.append('"');
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '"':
                    out.append("\\\"");
                    break;
                case '\\':
                    out.append("\\\\");
                    break;
                case '\n':
                    out.append("\\n");
                    break;
                case '\r':
                    out.append("\\r");
                    break;
                case '\t':
                    out.append("\\t");
                    break;
                case '\b':
                    out.append("\\b");
                    break;
                case '\f':
                    out.append("\\f");
                    break;
                default:
                    if (c < 0x20) {
                        out.append(String.format("\\u%04X", (int) c));
                    } else {
                        out.append(c);
                    }
            }
        }
        out.append('"');
    }

    static String utf8(byte[] bytes) {
        return new String(bytes, StandardCharsets.UTF_8);
    }

    static byte[] readAll(java.io.InputStream in) throws java.io.IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        int n;
        while ((n = in.read(buffer)) > 0) {
            out.write(buffer, 0, n);
        }
        return out.toByteArray();
    }
}
