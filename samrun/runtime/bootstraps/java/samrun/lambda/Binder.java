package samrun.lambda;

import java.lang.reflect.Array;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Calendar;
import java.util.Collection;
import java.util.Date;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A JSON tree (Json.java) to the handler's input type, and its return value to a tree, the way
 * Lambda's Java runtime serialises them (aws-lambda-java-serialization's Jackson settings):
 * properties are public fields, getters and setters with standard bean names, matched exactly;
 * unknown properties are ignored; nulls are left out of objects; a single value is accepted for
 * a list and a one-element list for a single value; "" stands for a null object. The event
 * classes of aws-lambda-java-events that Lambda gives mixins and naming strategies (SQSEvent's
 * "Records", "eventSourceARN", SNSEvent's PascalCase, DynamoDB's "S"/"N"/"NULL", ScheduledEvent's
 * "detail-type"...) are matched ignoring case and punctuation, with their dates read as epoch
 * seconds, which amounts to the same for every name those mixins declare.
 */
final class Binder {
    private Binder() {
    }

    /** A value that does not fit its type: Jackson's words, as Lambda shows them. */
    static final class BindException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        BindException(String message) {
            super(message);
        }

        BindException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    static final String EVENTS = "com.amazonaws.services.lambda.runtime.events.";
    private static final Set<String> SUPPORTED_EVENTS = new HashSet<String>(Arrays.asList(
            "APIGatewayProxyRequestEvent", "APIGatewayProxyResponseEvent",
            "CloudFormationCustomResourceEvent", "CloudFrontEvent", "CloudWatchLogsEvent",
            "CodeCommitEvent", "CognitoEvent", "ConfigEvent", "ConnectEvent", "DynamodbEvent",
            "DynamodbTimeWindowEvent", "IoTButtonEvent", "KinesisEvent", "KinesisTimeWindowEvent",
            "KinesisFirehoseEvent", "LambdaDestinationEvent", "LexEvent", "ScheduledEvent",
            "SecretsManagerRotationEvent", "SNSEvent", "SQSEvent"));
    private static final int MAX_DEPTH = 1000;

    private static final Map<Class<?>, Bean> BEANS = new ConcurrentHashMap<Class<?>, Bean>();

    // -- reading ----------------------------------------------------------------------------

    static Object read(Object node, Type type) {
        return read(node, type, isLambdaEvent(rawClass(type)), new HashMap<TypeVariable<?>, Type>());
    }

    /** Whether Lambda reads `c` with the event mixins (a supported event or one of its parts). */
    static boolean isLambdaEvent(Class<?> c) {
        String name = c.getName();
        if (name.startsWith(EVENTS + "models.")) {
            return true;
        }
        if (!name.startsWith(EVENTS)) {
            return false;
        }
        String simple = name.substring(EVENTS.length());
        int nested = simple.indexOf('$');
        return SUPPORTED_EVENTS.contains(nested < 0 ? simple : simple.substring(0, nested));
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    static Object read(Object node, Type type, boolean lenient, Map<TypeVariable<?>, Type> bindings) {
        type = resolve(type, bindings);
        Class<?> raw = rawClass(type);
        if (raw == Object.class) {
            return node;
        }
        if (raw == Optional.class) {
            return Optional.ofNullable(read(node, typeArgument(type, 0), lenient, bindings));
        }
        if (node == null) {
            return raw.isPrimitive() ? primitiveDefault(raw) : null;
        }
        if (raw == String.class || raw == CharSequence.class) {
            if (node instanceof Map || node instanceof List) {
                if (node instanceof List && ((List<?>) node).size() == 1 && !(((List<?>) node).get(0) instanceof List)) {
                    return read(((List<?>) node).get(0), type, lenient, bindings);
                }
                throw mismatch(raw, node);
            }
            return node instanceof Double ? trimDouble((Double) node) : node.toString();
        }
        if (raw.isPrimitive() || Number.class.isAssignableFrom(raw) || raw == Boolean.class || raw == Character.class) {
            return scalar(node, raw, type, lenient, bindings);
        }
        if (raw.isEnum()) {
            return enumValue(node, (Class<? extends Enum>) raw);
        }
        if (raw == byte[].class) {
            return bytes(node, raw);
        }
        if (ByteBuffer.class.isAssignableFrom(raw)) {
            return ByteBuffer.wrap(bytes(node, raw));
        }
        if (raw == Date.class || raw == Calendar.class || raw.getName().startsWith("java.time.")
                || raw.getName().equals("org.joda.time.DateTime")) {
            return Times.read(node, raw, lenient);
        }
        if (node instanceof String && ((String) node).isEmpty() && !raw.isPrimitive()) {
            return null;  // ACCEPT_EMPTY_STRING_AS_NULL_OBJECT
        }
        if (Map.class.isAssignableFrom(raw)) {
            if (!(node instanceof Map)) {
                throw mismatch(raw, node);
            }
            Map<Object, Object> map = (Map<Object, Object>) newMap(raw);
            Type keyType = typeArgument(type, 0);
            Type valueType = typeArgument(type, 1);
            for (Map.Entry<String, Object> entry : ((Map<String, Object>) node).entrySet()) {
                Object key = rawClass(keyType) == Object.class || rawClass(keyType) == String.class
                        ? entry.getKey() : read(entry.getKey(), keyType, lenient, bindings);
                map.put(key, read(entry.getValue(), valueType, lenient, bindings));
            }
            return map;
        }
        if (Collection.class.isAssignableFrom(raw)) {
            List<Object> items = node instanceof List ? (List<Object>) node : Arrays.asList(node);
            Collection<Object> collection = (Collection<Object>) newCollection(raw);
            Type itemType = typeArgument(type, 0);
            for (Object item : items) {
                collection.add(read(item, itemType, lenient, bindings));
            }
            return collection;
        }
        if (raw.isArray()) {
            List<Object> items = node instanceof List ? (List<Object>) node : Arrays.asList(node);
            Type itemType = type instanceof GenericArrayType
                    ? ((GenericArrayType) type).getGenericComponentType() : raw.getComponentType();
            Object array = Array.newInstance(raw.getComponentType(), items.size());
            for (int i = 0; i < items.size(); i++) {
                Array.set(array, i, read(items.get(i), itemType, lenient, bindings));
            }
            return array;
        }
        if (node instanceof List) {
            List<?> list = (List<?>) node;
            if (list.size() == 1) {  // UNWRAP_SINGLE_VALUE_ARRAYS
                return read(list.get(0), type, lenient, bindings);
            }
            throw mismatch(raw, node);
        }
        if (!(node instanceof Map)) {
            throw new BindException("Cannot construct instance of `" + raw.getName()
                    + "` (although at least one Creator exists): no " + jsonKind(node)
                    + "-argument constructor/factory method to deserialize from " + jsonKind(node)
                    + " value (" + describe(node) + ")");
        }
        return bean(node, type, raw, lenient || isLambdaEvent(raw), bindings);
    }

    @SuppressWarnings("unchecked")
    private static Object bean(Object node, Type type, Class<?> raw, boolean lenient,
            Map<TypeVariable<?>, Type> outer) {
        Bean bean = Bean.of(raw);
        if (bean.constructor == null) {
            throw new BindException("Cannot construct instance of `" + raw.getName()
                    + "` (no Creators, like default constructor, exist): "
                    + (Modifier.isAbstract(raw.getModifiers())
                            ? "abstract types either need to be mapped to concrete types, have custom deserializer, or contain additional type information"
                            : "cannot deserialize from Object value (no delegate- or property-based Creator)"));
        }
        Map<TypeVariable<?>, Type> bindings = bindings(type, outer);
        Object instance;
        try {
            instance = bean.constructor.newInstance();
        } catch (InvocationTargetException e) {
            throw new BindException("Cannot construct instance of `" + raw.getName() + "`, problem: "
                    + e.getCause(), e.getCause());
        } catch (Exception e) {
            throw new BindException("Cannot construct instance of `" + raw.getName() + "`: " + e, e);
        }
        for (Map.Entry<String, Object> entry : ((Map<String, Object>) node).entrySet()) {
            Prop prop = bean.inputs.get(entry.getKey());
            if (prop == null && lenient) {
                prop = bean.lenientInputs.get(normalise(entry.getKey()));
            }
            if (prop == null) {
                continue;  // FAIL_ON_UNKNOWN_PROPERTIES is off
            }
            Object value;
            try {
                value = read(entry.getValue(), prop.inputType(), lenient, bindings);
            } catch (BindException e) {
                throw new BindException(e.getMessage() + " (through reference chain: " + raw.getName()
                        + "[\"" + entry.getKey() + "\"])", e.getCause());
            }
            prop.set(instance, value);
        }
        return instance;
    }

    private static Object scalar(Object node, Class<?> raw, Type type, boolean lenient,
            Map<TypeVariable<?>, Type> bindings) {
        Class<?> box = box(raw);
        if (node instanceof List && ((List<?>) node).size() == 1) {
            return read(((List<?>) node).get(0), type, lenient, bindings);
        }
        if (node instanceof Map || node instanceof List) {
            throw mismatch(raw, node);
        }
        try {
            if (box == Boolean.class) {
                if (node instanceof Boolean) {
                    return node;
                }
                if (node instanceof Number) {
                    return Boolean.valueOf(((Number) node).intValue() != 0);
                }
                String text = node.toString().trim();
                if (text.equalsIgnoreCase("true") || text.equalsIgnoreCase("false")) {
                    return Boolean.valueOf(text.equalsIgnoreCase("true"));
                }
                if (text.isEmpty()) {
                    return raw.isPrimitive() ? Boolean.FALSE : null;
                }
                throw new BindException("Cannot deserialize value of type `" + raw.getName()
                        + "` from String \"" + text + "\": only \"true\" or \"false\" recognized");
            }
            if (box == Character.class) {
                String text = node.toString();
                if (node instanceof Number) {
                    return Character.valueOf((char) ((Number) node).intValue());
                }
                if (text.length() == 1) {
                    return Character.valueOf(text.charAt(0));
                }
                throw new BindException("Cannot deserialize value of type `" + raw.getName()
                        + "` from String \"" + text + "\": Expected either Integer value code or 1-character String");
            }
            if (node instanceof Boolean) {
                throw mismatch(raw, node);
            }
            if (node instanceof String && ((String) node).trim().isEmpty()) {
                return raw.isPrimitive() ? primitiveDefault(raw) : null;
            }
            BigDecimal number = node instanceof Number ? decimal((Number) node) : new BigDecimal(node.toString().trim());
            if (box == Integer.class) {
                return Integer.valueOf(number.intValue());
            }
            if (box == Long.class) {
                return Long.valueOf(number.longValue());
            }
            if (box == Double.class) {
                return Double.valueOf(node instanceof Double ? (Double) node : number.doubleValue());
            }
            if (box == Float.class) {
                return Float.valueOf(number.floatValue());
            }
            if (box == Short.class) {
                return Short.valueOf(number.shortValue());
            }
            if (box == Byte.class) {
                return Byte.valueOf(number.byteValue());
            }
            if (box == BigInteger.class) {
                return number.toBigInteger();
            }
            if (box == BigDecimal.class || box == Number.class) {
                return box == Number.class && node instanceof Number ? node : number;
            }
            if (box == java.util.concurrent.atomic.AtomicInteger.class) {
                return new java.util.concurrent.atomic.AtomicInteger(number.intValue());
            }
            if (box == java.util.concurrent.atomic.AtomicLong.class) {
                return new java.util.concurrent.atomic.AtomicLong(number.longValue());
            }
        } catch (NumberFormatException e) {
            throw new BindException("Cannot deserialize value of type `" + raw.getName() + "` from String \""
                    + node + "\": not a valid `" + box.getName() + "` value");
        }
        throw mismatch(raw, node);
    }

    private static BigDecimal decimal(Number number) {
        if (number instanceof Double || number instanceof Float) {
            double d = number.doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) {
                throw new NumberFormatException("not a finite number");
            }
            return BigDecimal.valueOf(d);
        }
        return number instanceof BigInteger ? new BigDecimal((BigInteger) number) : BigDecimal.valueOf(number.longValue());
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Object enumValue(Object node, Class<? extends Enum> raw) {
        Object[] constants = raw.getEnumConstants();
        if (node instanceof Number) {
            int index = ((Number) node).intValue();
            return index >= 0 && index < constants.length ? constants[index] : null;
        }
        String name = node.toString();
        for (Object constant : constants) {
            if (((Enum) constant).name().equals(name)) {
                return constant;
            }
        }
        return null;  // READ_UNKNOWN_ENUM_VALUES_AS_NULL
    }

    private static byte[] bytes(Object node, Class<?> raw) {
        if (node instanceof String) {
            try {
                return Base64.getMimeDecoder().decode((String) node);
            } catch (IllegalArgumentException e) {
                throw new BindException("Cannot deserialize value of type `" + raw.getName()
                        + "` from String \"" + node + "\": Failed to decode VALUE_STRING as base64 (MIME-NO-LINEFEEDS)");
            }
        }
        if (node instanceof List) {
            List<?> list = (List<?>) node;
            byte[] out = new byte[list.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = ((Number) scalar(list.get(i), byte.class, byte.class, false, null)).byteValue();
            }
            return out;
        }
        throw mismatch(raw, node);
    }

    static BindException mismatch(Class<?> raw, Object node) {
        return new BindException("Cannot deserialize value of type `" + typeName(raw) + "` from "
                + jsonKind(node) + " value (token `JsonToken." + token(node) + "`)");
    }

    private static String typeName(Class<?> raw) {
        return raw.isArray() ? raw.getComponentType().getName() + "[]" : raw.getName();
    }

    private static String jsonKind(Object node) {
        if (node instanceof Map) {
            return "Object";
        }
        if (node instanceof List) {
            return "Array";
        }
        if (node instanceof String) {
            return "String";
        }
        if (node instanceof Boolean) {
            return "Boolean";
        }
        if (node instanceof Double) {
            return "Floating-point";
        }
        return "Integer";
    }

    private static String token(Object node) {
        if (node instanceof Map) {
            return "START_OBJECT";
        }
        if (node instanceof List) {
            return "START_ARRAY";
        }
        if (node instanceof String) {
            return "VALUE_STRING";
        }
        if (node instanceof Boolean) {
            return ((Boolean) node) ? "VALUE_TRUE" : "VALUE_FALSE";
        }
        if (node instanceof Double) {
            return "VALUE_NUMBER_FLOAT";
        }
        return "VALUE_NUMBER_INT";
    }

    private static String describe(Object node) {
        return node instanceof String ? "'" + node + "'" : String.valueOf(node);
    }

    private static String trimDouble(Double d) {
        return d.toString();
    }

    static String normalise(String name) {
        StringBuilder out = new StringBuilder(name.length());
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (Character.isLetterOrDigit(c)) {
                out.append(Character.toLowerCase(c));
            }
        }
        return out.toString();
    }

    private static Object primitiveDefault(Class<?> raw) {
        if (raw == boolean.class) {
            return Boolean.FALSE;
        }
        if (raw == char.class) {
            return Character.valueOf('\0');
        }
        if (raw == double.class) {
            return Double.valueOf(0);
        }
        if (raw == float.class) {
            return Float.valueOf(0);
        }
        if (raw == long.class) {
            return Long.valueOf(0);
        }
        if (raw == short.class) {
            return Short.valueOf((short) 0);
        }
        if (raw == byte.class) {
            return Byte.valueOf((byte) 0);
        }
        return Integer.valueOf(0);
    }

    private static Class<?> box(Class<?> raw) {
        if (!raw.isPrimitive()) {
            return raw;
        }
        if (raw == int.class) {
            return Integer.class;
        }
        if (raw == long.class) {
            return Long.class;
        }
        if (raw == double.class) {
            return Double.class;
        }
        if (raw == float.class) {
            return Float.class;
        }
        if (raw == boolean.class) {
            return Boolean.class;
        }
        if (raw == char.class) {
            return Character.class;
        }
        if (raw == short.class) {
            return Short.class;
        }
        return Byte.class;
    }

    private static Object newMap(Class<?> raw) {
        if (!raw.isInterface() && !Modifier.isAbstract(raw.getModifiers())) {
            try {
                return raw.getConstructor().newInstance();
            } catch (Exception e) {
                throw new BindException("Cannot construct instance of `" + raw.getName() + "`");
            }
        }
        if (SortedMap.class.isAssignableFrom(raw)) {
            return new TreeMap<Object, Object>();
        }
        if (raw.isAssignableFrom(ConcurrentHashMap.class) && !raw.isAssignableFrom(LinkedHashMap.class)) {
            return new ConcurrentHashMap<Object, Object>();
        }
        return new LinkedHashMap<Object, Object>();
    }

    private static Object newCollection(Class<?> raw) {
        if (!raw.isInterface() && !Modifier.isAbstract(raw.getModifiers())) {
            try {
                return raw.getConstructor().newInstance();
            } catch (Exception e) {
                throw new BindException("Cannot construct instance of `" + raw.getName() + "`");
            }
        }
        if (SortedSet.class.isAssignableFrom(raw)) {
            return new TreeSet<Object>();
        }
        if (Set.class.isAssignableFrom(raw)) {
            return new LinkedHashSet<Object>();
        }
        return new ArrayList<Object>();
    }

    // -- types ------------------------------------------------------------------------------

    static Class<?> rawClass(Type type) {
        if (type instanceof Class) {
            return (Class<?>) type;
        }
        if (type instanceof ParameterizedType) {
            return rawClass(((ParameterizedType) type).getRawType());
        }
        if (type instanceof GenericArrayType) {
            return Array.newInstance(rawClass(((GenericArrayType) type).getGenericComponentType()), 0).getClass();
        }
        if (type instanceof TypeVariable) {
            Type[] bounds = ((TypeVariable<?>) type).getBounds();
            return bounds.length > 0 ? rawClass(bounds[0]) : Object.class;
        }
        if (type instanceof WildcardType) {
            Type[] upper = ((WildcardType) type).getUpperBounds();
            return upper.length > 0 ? rawClass(upper[0]) : Object.class;
        }
        return Object.class;
    }

    static Type typeArgument(Type type, int index) {
        if (type instanceof ParameterizedType) {
            Type[] arguments = ((ParameterizedType) type).getActualTypeArguments();
            if (index < arguments.length) {
                return arguments[index];
            }
        }
        return Object.class;
    }

    /** `type` with the type variables `bindings` knows replaced. */
    static Type resolve(Type type, Map<TypeVariable<?>, Type> bindings) {
        if (bindings == null || bindings.isEmpty()) {
            return type;
        }
        if (type instanceof TypeVariable) {
            Type bound = bindings.get(type);
            return bound != null ? bound : type;
        }
        if (type instanceof ParameterizedType) {
            final ParameterizedType p = (ParameterizedType) type;
            final Type[] arguments = p.getActualTypeArguments().clone();
            boolean changed = false;
            for (int i = 0; i < arguments.length; i++) {
                Type resolved = resolve(arguments[i], bindings);
                changed |= resolved != arguments[i];
                arguments[i] = resolved;
            }
            if (!changed) {
                return type;
            }
            return new ParameterizedType() {
                public Type[] getActualTypeArguments() {
                    return arguments.clone();
                }

                public Type getRawType() {
                    return p.getRawType();
                }

                public Type getOwnerType() {
                    return p.getOwnerType();
                }
            };
        }
        if (type instanceof GenericArrayType) {
            final Type component = resolve(((GenericArrayType) type).getGenericComponentType(), bindings);
            return new GenericArrayType() {
                public Type getGenericComponentType() {
                    return component;
                }
            };
        }
        if (type instanceof WildcardType) {
            Type[] upper = ((WildcardType) type).getUpperBounds();
            return upper.length > 0 ? resolve(upper[0], bindings) : Object.class;
        }
        return type;
    }

    /** The type variables of `type`'s class and its superclasses, bound. */
    static Map<TypeVariable<?>, Type> bindings(Type type, Map<TypeVariable<?>, Type> outer) {
        Map<TypeVariable<?>, Type> bindings = new HashMap<TypeVariable<?>, Type>(outer);
        Type current = type;
        while (current != null && rawClass(current) != Object.class) {
            Class<?> raw = rawClass(current);
            if (current instanceof ParameterizedType) {
                TypeVariable<?>[] variables = raw.getTypeParameters();
                Type[] arguments = ((ParameterizedType) current).getActualTypeArguments();
                for (int i = 0; i < variables.length && i < arguments.length; i++) {
                    bindings.put(variables[i], resolve(arguments[i], bindings));
                }
            }
            current = raw.getGenericSuperclass();
        }
        return bindings;
    }

    // -- writing ----------------------------------------------------------------------------

    /** The handler's result as a JSON tree (Json.write writes it). */
    static Object write(Object value) {
        return write(value, 0, new IdentityHashMap<Object, Boolean>());
    }

    @SuppressWarnings({"rawtypes"})
    private static Object write(Object value, int depth, IdentityHashMap<Object, Boolean> seen) {
        if (value == null || value instanceof String || value instanceof Boolean) {
            return value;
        }
        if (depth > MAX_DEPTH) {
            throw new BindException("Document nesting depth exceeds the maximum allowed (" + MAX_DEPTH + ")");
        }
        if (value instanceof Number) {
            if (value instanceof java.util.concurrent.atomic.AtomicInteger || value instanceof java.util.concurrent.atomic.AtomicLong) {
                return Long.valueOf(((Number) value).longValue());
            }
            return value;
        }
        if (value instanceof Character || value instanceof CharSequence) {
            return value.toString();
        }
        if (value instanceof Enum) {
            return ((Enum) value).name();
        }
        if (value instanceof Optional) {
            Optional<?> optional = (Optional<?>) value;
            return optional.isPresent() ? write(optional.get(), depth + 1, seen) : null;
        }
        if (value instanceof byte[]) {
            return Base64.getEncoder().encodeToString((byte[]) value);
        }
        if (value instanceof char[]) {
            return new String((char[]) value);
        }
        if (value instanceof ByteBuffer) {
            ByteBuffer buffer = ((ByteBuffer) value).duplicate();
            byte[] bytes = new byte[buffer.remaining()];
            buffer.get(bytes);
            return Base64.getEncoder().encodeToString(bytes);
        }
        Object time = Times.write(value);
        if (time != null) {
            return time;
        }
        if (value instanceof Class) {
            return ((Class<?>) value).getName();
        }
        if (simpleText(value.getClass())) {
            return value.toString();
        }
        if (seen.containsKey(value)) {
            throw new BindException("Direct self-reference leading to cycle (through reference chain: "
                    + value.getClass().getName() + ")");
        }
        seen.put(value, Boolean.TRUE);
        try {
            if (value instanceof Map) {
                Map<String, Object> out = new LinkedHashMap<String, Object>();
                for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
                    Object key = entry.getKey();
                    String name = key instanceof Enum ? ((Enum) key).name() : String.valueOf(key);
                    out.put(name, write(entry.getValue(), depth + 1, seen));
                }
                return out;
            }
            if (value instanceof Iterable) {
                List<Object> out = new ArrayList<Object>();
                for (Object item : (Iterable<?>) value) {
                    out.add(write(item, depth + 1, seen));
                }
                return out;
            }
            if (value.getClass().isArray()) {
                int length = Array.getLength(value);
                List<Object> out = new ArrayList<Object>(length);
                for (int i = 0; i < length; i++) {
                    out.add(write(Array.get(value, i), depth + 1, seen));
                }
                return out;
            }
            Bean bean = Bean.of(value.getClass());
            Map<String, Object> out = new LinkedHashMap<String, Object>();
            for (Prop prop : bean.outputs) {
                Object property = prop.get(value);
                if (property != null) {  // Include.NON_NULL
                    out.put(prop.name, write(property, depth + 1, seen));
                }
            }
            return out;
        } finally {
            seen.remove(value);
        }
    }

    private static boolean simpleText(Class<?> c) {
        String name = c.getName();
        return name.equals("java.util.UUID") || name.equals("java.net.URI") || name.equals("java.net.URL")
                || name.equals("java.io.File") || name.equals("java.util.Locale") || name.equals("java.util.Currency")
                || name.equals("java.util.regex.Pattern") || name.equals("java.nio.charset.Charset")
                || java.util.TimeZone.class.isAssignableFrom(c) || name.startsWith("sun.nio.fs.")
                || java.net.InetAddress.class.isAssignableFrom(c);
    }

    // -- bean properties --------------------------------------------------------------------

    /** One property of a bean: how it is read (getter, else public field) and set. */
    static final class Prop {
        final String name;
        Method getter;
        Field field;
        Method setter;

        Prop(String name) {
            this.name = name;
        }

        Type inputType() {
            return setter != null ? setter.getGenericParameterTypes()[0] : field.getGenericType();
        }

        Object get(Object instance) {
            try {
                return getter != null ? getter.invoke(instance) : field.get(instance);
            } catch (InvocationTargetException e) {
                throw new BindException("(was " + e.getCause().getClass().getName() + ") (through reference chain: "
                        + instance.getClass().getName() + "[\"" + name + "\"])", e.getCause());
            } catch (IllegalAccessException e) {
                throw new BindException(e.toString(), e);
            }
        }

        void set(Object instance, Object value) {
            try {
                if (setter != null) {
                    setter.invoke(instance, value);
                } else {
                    field.set(instance, value);
                }
            } catch (InvocationTargetException e) {
                throw new BindException("Problem deserializing property '" + name + "' (expected type: "
                        + inputType() + "; actual type: " + (value == null ? "null" : value.getClass().getName())
                        + "), problem: " + e.getCause(), e.getCause());
            } catch (IllegalAccessException e) {
                throw new BindException(e.toString(), e);
            }
        }
    }

    /** A class's properties, found once. */
    static final class Bean {
        final Constructor<?> constructor;
        final List<Prop> outputs = new ArrayList<Prop>();
        final Map<String, Prop> inputs = new HashMap<String, Prop>();
        final Map<String, Prop> lenientInputs = new HashMap<String, Prop>();

        static Bean of(Class<?> c) {
            Bean bean = BEANS.get(c);
            if (bean == null) {
                bean = new Bean(c);
                BEANS.put(c, bean);
            }
            return bean;
        }

        private Bean(Class<?> c) {
            Constructor<?> found = null;
            if (!Modifier.isAbstract(c.getModifiers()) && !c.isInterface()
                    && (c.getEnclosingClass() == null || Modifier.isStatic(c.getModifiers()))) {
                try {
                    found = c.getDeclaredConstructor();
                    found.setAccessible(true);
                } catch (Exception e) {
                    found = null;
                }
            }
            constructor = found;
            List<Class<?>> chain = new ArrayList<Class<?>>();
            for (Class<?> k = c; k != null && k != Object.class; k = k.getSuperclass()) {
                chain.add(0, k);
            }
            Map<String, Prop> props = new LinkedHashMap<String, Prop>();
            for (Class<?> k : chain) {  // field order first: Jackson's order
                for (Field f : k.getDeclaredFields()) {
                    if (Modifier.isStatic(f.getModifiers()) || f.isSynthetic()) {
                        continue;
                    }
                    Prop prop = prop(props, f.getName());
                    if (Modifier.isPublic(f.getModifiers()) && !Modifier.isTransient(f.getModifiers())) {
                        prop.field = f;
                    }
                }
            }
            for (Method m : c.getMethods()) {
                if (Modifier.isStatic(m.getModifiers()) || m.isBridge() || m.isSynthetic()) {
                    continue;
                }
                String name = m.getName();
                int arity = m.getParameterTypes().length;
                if (arity == 0 && name.startsWith("get") && name.length() > 3
                        && m.getReturnType() != void.class && !name.equals("getClass")
                        && !(c.isEnum() && name.equals("getDeclaringClass"))) {
                    prop(props, beanName(name.substring(3))).getter = m;
                } else if (arity == 0 && name.startsWith("is") && name.length() > 2
                        && m.getReturnType() == boolean.class) {
                    Prop prop = prop(props, beanName(name.substring(2)));
                    if (prop.getter == null) {
                        prop.getter = m;
                    }
                }
            }
            for (Class<?> k : chain) {  // setters: any visibility (Jackson's default)
                for (Method m : k.getDeclaredMethods()) {
                    String name = m.getName();
                    if (Modifier.isStatic(m.getModifiers()) || m.isBridge() || m.isSynthetic()
                            || m.getParameterTypes().length != 1 || !name.startsWith("set") || name.length() <= 3) {
                        continue;
                    }
                    Prop prop = prop(props, beanName(name.substring(3)));
                    if (prop.setter == null || k == c) {
                        if (!Modifier.isPublic(m.getModifiers()) || !Modifier.isPublic(k.getModifiers())) {
                            try {
                                m.setAccessible(true);
                            } catch (RuntimeException e) {
                                continue;
                            }
                        }
                        prop.setter = m;
                    }
                }
            }
            for (Prop prop : props.values()) {
                if (prop.field != null && !Modifier.isPublic(prop.field.getDeclaringClass().getModifiers())) {
                    try {
                        prop.field.setAccessible(true);
                    } catch (RuntimeException e) {
                        prop.field = null;
                    }
                }
                if (prop.getter != null && !Modifier.isPublic(prop.getter.getDeclaringClass().getModifiers())) {
                    try {
                        prop.getter.setAccessible(true);
                    } catch (RuntimeException e) {
                        prop.getter = null;
                    }
                }
                if (prop.getter != null || prop.field != null) {
                    outputs.add(prop);
                }
                if (prop.setter == null && prop.field != null && Modifier.isFinal(prop.field.getModifiers())) {
                    try {  // ALLOW_FINAL_FIELDS_AS_MUTATORS
                        prop.field.setAccessible(true);
                    } catch (RuntimeException e) {
                        continue;
                    }
                }
                if (prop.setter != null || prop.field != null) {
                    inputs.put(prop.name, prop);
                    String key = normalise(prop.name);
                    if (!lenientInputs.containsKey(key)) {
                        lenientInputs.put(key, prop);
                    }
                }
            }
        }

        private static Prop prop(Map<String, Prop> props, String name) {
            Prop prop = props.get(name);
            if (prop == null) {
                prop = new Prop(name);
                props.put(name, prop);
            }
            return prop;
        }
    }

    /** Jackson's USE_STD_BEAN_NAMING: `URL` stays `URL`, `Name` becomes `name`. */
    static String beanName(String suffix) {
        if (suffix.length() > 1 && Character.isUpperCase(suffix.charAt(0)) && Character.isUpperCase(suffix.charAt(1))) {
            return suffix;
        }
        return Character.toLowerCase(suffix.charAt(0)) + suffix.substring(1);
    }
}
