-- One database per bounded context (docker-compose's PostgreSQL; scripts/stack.sh does the same).
CREATE DATABASE shop_users;
CREATE DATABASE shop_products;
CREATE DATABASE shop_orders;
CREATE DATABASE shop_notifications;
